/**
 * Named, versioned feature definitions. Every value is a pure function of one customer's events STRICTLY
 * before `asOf` plus their static attributes: `aggregate` drops later events itself, so a caller cannot leak
 * the label window into the features by passing too much. Bump FEATURE_SET when a definition changes meaning:
 * stored snapshots and trained models name the set they were built with.
 */
export const FEATURE_SET = 'behaviour-v1';
export const DAY_MS = 86_400_000;
/** Value used for "not defined" (no purchase yet, unknown birth year): trees split it apart from real values. */
export const MISSING = -1;

export interface CustomerEvent {
  /** epoch ms */
  at: number;
  /** Money, positive for purchases; refunds may be stored with either sign (the absolute value is used). */
  amount: number;
  kind: 'purchase' | 'refund';
  productId?: string | null;
  /** Several products in one transaction (an invoice of many lines). */
  productIds?: readonly string[];
  category?: string | null;
  quantity?: number;
}

export interface CustomerAttributes {
  birthYear?: number | null;
  region?: string | null;
  /** epoch ms */
  signupAt?: number | null;
}

/** One pass over the events before asOf; the definitions below only read this. */
export interface Aggregate {
  asOf: number;
  orders: number;
  purchaseDays: number;
  first: number;
  last: number;
  gross: number;
  maxOrder: number;
  lastOrder: number;
  refunds: number;
  refundCount: number;
  quantity: number;
  spendIn: Record<Window, number>;
  ordersIn: Record<Window, number>;
  gapMean: number;
  gapVar: number;
  gapLast: number;
  products: number;
  categories: number;
  /** Mean spend per purchase day after the first one (Gamma-Gamma's m), 0 without repeats. */
  repeatDayMean: number;
  attrs: CustomerAttributes;
}

const WINDOWS = [30, 90, 180, 365] as const;
type Window = (typeof WINDOWS)[number];

export function aggregate(events: readonly CustomerEvent[], attrs: CustomerAttributes, asOf: number): Aggregate {
  const spendIn = { 30: 0, 90: 0, 180: 0, 365: 0 } as Record<Window, number>;
  const ordersIn = { 30: 0, 90: 0, 180: 0, 365: 0 } as Record<Window, number>;
  const products = new Set<string>();
  const categories = new Set<string>();
  const dayTotals = new Map<number, number>();
  let orders = 0;
  let first = Infinity;
  let last = -Infinity;
  let gross = 0;
  let maxOrder = 0;
  let lastOrder = 0;
  let refunds = 0;
  let refundCount = 0;
  let quantity = 0;
  for (const e of events) {
    if (!(e.at < asOf)) continue;
    const amount = Math.abs(e.amount);
    const ageDays = (asOf - e.at) / DAY_MS;
    if (e.kind === 'refund') {
      refunds += amount;
      refundCount++;
      for (const w of WINDOWS) if (ageDays <= w) spendIn[w] -= amount;
      continue;
    }
    orders++;
    gross += amount;
    quantity += e.quantity ?? 1;
    if (amount > maxOrder) maxOrder = amount;
    if (e.at < first) first = e.at;
    // Purchases at the same instant (lines of one invoice) form the last order together: the value must not
    // depend on the order the database happened to return tied rows in.
    if (e.at > last) {
      last = e.at;
      lastOrder = amount;
    } else if (e.at === last) lastOrder += amount;
    for (const w of WINDOWS) {
      if (ageDays <= w) {
        spendIn[w] += amount;
        ordersIn[w]++;
      }
    }
    if (e.productId) products.add(e.productId);
    if (e.productIds) for (const p of e.productIds) products.add(p);
    if (e.category) categories.add(e.category);
    const day = Math.floor(e.at / DAY_MS);
    dayTotals.set(day, (dayTotals.get(day) ?? 0) + amount);
  }
  const days = [...dayTotals.keys()].sort((a, b) => a - b);
  const gaps = gapStats(days);
  let repeat = 0;
  for (let i = 1; i < days.length; i++) repeat += dayTotals.get(days[i]!)!;
  return {
    asOf,
    orders,
    purchaseDays: days.length,
    first,
    last,
    gross,
    maxOrder,
    lastOrder,
    refunds,
    refundCount,
    quantity,
    spendIn,
    ordersIn,
    ...gaps,
    products: products.size,
    categories: categories.size,
    repeatDayMean: days.length > 1 ? repeat / (days.length - 1) : 0,
    attrs,
  };
}

/** Mean, population variance and last value of the gaps (days) between distinct purchase days. */
export function gapStats(sortedDays: readonly number[]): { gapMean: number; gapVar: number; gapLast: number } {
  const n = sortedDays.length - 1;
  if (n < 1) return { gapMean: MISSING, gapVar: MISSING, gapLast: MISSING };
  let sum = 0;
  let sq = 0;
  for (let i = 1; i <= n; i++) {
    const g = sortedDays[i]! - sortedDays[i - 1]!;
    sum += g;
    sq += g * g;
  }
  const mean = sum / n;
  return { gapMean: mean, gapVar: Math.max(0, sq / n - mean * mean), gapLast: sortedDays[n]! - sortedDays[n - 1]! };
}

export interface FeatureDefinition {
  name: string;
  description: string;
  value(a: Aggregate): number;
}

const has = (a: Aggregate) => a.orders > 0;
const days = (ms: number) => ms / DAY_MS;
const tenure = (a: Aggregate) => (has(a) ? days(a.asOf - a.first) : MISSING);

export const FEATURE_DEFINITIONS: readonly FeatureDefinition[] = [
  { name: 'recency_days', description: 'days from the last purchase to asOf', value: (a) => (has(a) ? days(a.asOf - a.last) : MISSING) },
  { name: 'frequency', description: 'repeat purchases: distinct purchase days minus one', value: (a) => Math.max(0, a.purchaseDays - 1) },
  { name: 'orders', description: 'purchase transactions', value: (a) => a.orders },
  { name: 'tenure_days', description: 'days from the first purchase to asOf', value: tenure },
  { name: 'active_span_days', description: 'days from the first to the last purchase (t_x)', value: (a) => (has(a) ? days(a.last - a.first) : MISSING) },
  { name: 'monetary_total', description: 'gross purchase value', value: (a) => a.gross },
  { name: 'monetary_mean', description: 'mean purchase value', value: (a) => (has(a) ? a.gross / a.orders : 0) },
  { name: 'monetary_max', description: 'largest purchase', value: (a) => a.maxOrder },
  { name: 'monetary_last', description: 'value of the most recent purchase (all purchases at that instant)', value: (a) => a.lastOrder },
  { name: 'repeat_day_mean', description: 'mean spend per repeat purchase day', value: (a) => a.repeatDayMean },
  { name: 'net_spend', description: 'purchases minus refunds', value: (a) => a.gross - a.refunds },
  ...WINDOWS.flatMap((w): FeatureDefinition[] => [
    { name: `spend_${w}d`, description: `net spend in the last ${w} days`, value: (a) => a.spendIn[w] },
    { name: `orders_${w}d`, description: `purchases in the last ${w} days`, value: (a) => a.ordersIn[w] },
  ]),
  { name: 'gap_mean_days', description: 'mean days between purchase days', value: (a) => a.gapMean },
  { name: 'gap_var_days', description: 'variance of days between purchase days', value: (a) => a.gapVar },
  { name: 'gap_last_days', description: 'days between the last two purchase days', value: (a) => a.gapLast },
  {
    name: 'overdue_ratio',
    description: 'recency divided by the mean gap (>1: later than usual)',
    value: (a) => (a.gapMean > 0 ? days(a.asOf - a.last) / a.gapMean : MISSING),
  },
  { name: 'refund_share', description: 'refunded value / purchased value', value: (a) => (a.gross > 0 ? a.refunds / a.gross : 0) },
  { name: 'refund_count', description: 'refund transactions', value: (a) => a.refundCount },
  { name: 'distinct_products', description: 'distinct products bought', value: (a) => a.products },
  { name: 'distinct_categories', description: 'distinct categories bought', value: (a) => a.categories },
  { name: 'quantity_mean', description: 'mean items per purchase', value: (a) => (has(a) ? a.quantity / a.orders : 0) },
  {
    name: 'spend_rate_per_day',
    description: 'net spend / max(tenure, 30 days): the naive baseline as a feature',
    value: (a) => (has(a) ? (a.gross - a.refunds) / Math.max(30, days(a.asOf - a.first)) : 0),
  },
  {
    name: 'age_years',
    description: 'age from the birth year at asOf',
    value: (a) => (a.attrs.birthYear ? new Date(a.asOf).getUTCFullYear() - a.attrs.birthYear : MISSING),
  },
  {
    name: 'signup_age_days',
    description: 'days since signup (only when signup precedes asOf)',
    value: (a) => (a.attrs.signupAt != null && a.attrs.signupAt < a.asOf ? days(a.asOf - a.attrs.signupAt) : MISSING),
  },
  // Target-free encoding: a stable hash bucket lets trees isolate frequent regions without any label statistics.
  { name: 'region_code', description: 'stable hash bucket (0..996) of the region', value: (a) => (a.attrs.region ? regionCode(a.attrs.region) : MISSING) },
];

export const FEATURE_NAMES: readonly string[] = FEATURE_DEFINITIONS.map((d) => d.name);

export function regionCode(region: string): number {
  let h = 0x811c9dc5;
  const s = region.trim().toLowerCase();
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 997;
}

/** Features of one customer as of `asOf`, in FEATURE_NAMES order. */
export function computeFeatures(events: readonly CustomerEvent[], attrs: CustomerAttributes, asOf: number): Float64Array {
  const a = aggregate(events, attrs, asOf);
  const out = new Float64Array(FEATURE_DEFINITIONS.length);
  for (let i = 0; i < out.length; i++) out[i] = FEATURE_DEFINITIONS[i]!.value(a);
  return out;
}

export function toRecord(names: readonly string[], values: ArrayLike<number>): Record<string, number> {
  const r: Record<string, number> = {};
  names.forEach((n, i) => {
    r[n] = values[i]!;
  });
  return r;
}

/** Net spend in (from, to]: the CLV label. */
export function netSpendBetween(events: readonly CustomerEvent[], from: number, to: number): number {
  let s = 0;
  for (const e of events) {
    if (e.at > from && e.at <= to) s += e.kind === 'refund' ? -Math.abs(e.amount) : Math.abs(e.amount);
  }
  return s;
}
