/**
 * Naive CLV baseline: "keep spending at your historical rate".
 *
 *   prediction = totalSpendBeforeCutoff / max(tenureDays, minTenureDays) × horizonDays
 *
 * tenureDays is the time from the customer's first purchase to the cutoff.
 * The floor (default 30 days) exists because a customer whose first purchase
 * is hours before the cutoff would otherwise get a near-infinite daily rate
 * (one $100 order yesterday → $36,500 / year). 30 days treats every new
 * customer as if their spend were spread over at least a month, which is the
 * usual order-cycle granularity; set it to 0 only if tenures are never tiny.
 * Any baseline this crude is meant to be beaten; it is a sanity floor for the
 * probabilistic and ML models, not a forecast.
 */

export const DEFAULT_MIN_TENURE_DAYS = 30;
const DAY_MS = 86_400_000;

export interface NaiveOptions {
  /** Floor on the tenure (days) used as the rate denominator. Default 30. */
  minTenureDays?: number;
}

export interface NaiveCustomer {
  /** Total spend observed up to the cutoff. */
  totalSpend: number;
  /** Days from the first purchase to the cutoff (fractional allowed). */
  tenureDays: number;
}

export interface NaiveTransaction {
  /** Date or epoch milliseconds. */
  at: Date | number;
  amount: number;
}

/** Spend per day over the (floored) observed tenure. */
export function naiveSpendRate(c: NaiveCustomer, opts: NaiveOptions = {}): number {
  const floor = opts.minTenureDays ?? DEFAULT_MIN_TENURE_DAYS;
  if (!(c.tenureDays >= 0) || !Number.isFinite(c.totalSpend)) throw new RangeError('naive: need tenureDays >= 0 and finite totalSpend');
  if (c.totalSpend === 0) return 0;
  const denom = Math.max(c.tenureDays, floor);
  if (!(denom > 0)) throw new RangeError('naive: zero tenure with minTenureDays = 0 has no rate');
  return c.totalSpend / denom;
}

export function naivePrediction(c: NaiveCustomer, horizonDays: number, opts: NaiveOptions = {}): number {
  if (!(horizonDays >= 0)) throw new RangeError('naive: horizonDays must be >= 0');
  return naiveSpendRate(c, opts) * horizonDays;
}

export function naivePredictions(customers: readonly NaiveCustomer[], horizonDays: number, opts: NaiveOptions = {}): Float64Array {
  const out = new Float64Array(customers.length);
  customers.forEach((c, i) => {
    out[i] = naivePrediction(c, horizonDays, opts);
  });
  return out;
}

/**
 * Summarise one customer's transactions relative to a cutoff: only
 * transactions at or before the cutoff count (the cutoff is inclusive), and
 * tenure is measured from the earliest of those. Returns null when the
 * customer has no history before the cutoff (no rate can be defined).
 */
export function naiveCustomerFromTransactions(txns: readonly NaiveTransaction[], cutoff: Date | number): NaiveCustomer | null {
  const end = +cutoff;
  let first = Infinity;
  let total = 0;
  for (const t of txns) {
    const at = +t.at;
    if (at > end) continue;
    first = Math.min(first, at);
    total += t.amount;
  }
  if (first === Infinity) return null;
  return { totalSpend: total, tenureDays: (end - first) / DAY_MS };
}

/** Convenience: predicted spend over the horizon from raw transactions; 0 for customers with no history. */
export function naiveFromTransactions(
  txns: readonly NaiveTransaction[],
  cutoff: Date | number,
  horizonDays: number,
  opts: NaiveOptions = {},
): number {
  const c = naiveCustomerFromTransactions(txns, cutoff);
  return c ? naivePrediction(c, horizonDays, opts) : 0;
}
