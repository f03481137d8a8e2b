/**
 * Gamma-Gamma spend model (Fader & Hardie 2013, "The Gamma-Gamma Model of
 * Monetary Value") and a CLV helper that multiplies it with BG/NBD purchase
 * counts. The model assumes spend per transaction is independent of the
 * purchase process, so it is fit on repeat customers only: x = number of repeat
 * purchases, m = mean value of those repeat purchases.
 */
import { expectedPurchases, type BgNbdParams } from './bgnbd';
import { lgamma, nelderMead } from './numeric';

// Module-level binding avoids slow global lookups inside Jest's vm context.
const { exp, log } = Math;
// A module-level copy: an imported function is a property read on every call in the compiled CommonJS.
const lgammaFn = lgamma;

export interface GammaGammaParams {
  p: number;
  q: number;
  v: number;
}

export interface GammaGammaFit extends GammaGammaParams {
  logLikelihood: number;
  /** Number of rows (weighted) that entered the likelihood, i.e. with x > 0. */
  n: number;
  iterations: number;
  converged: boolean;
}

export interface GammaGammaData {
  x: ArrayLike<number>;
  m: ArrayLike<number>;
  weights?: ArrayLike<number>;
}

interface Rows {
  x: number[];
  m: number[];
  w: number[];
}

/**
 * Rows with everything that does not depend on the parameters computed once: ln m, ln x, and the index of each
 * row's x among the distinct x values (few: repeat counts), so the lgamma terms are evaluated per distinct x
 * instead of per row. The per-row sum keeps the original left-to-right order of
 *   lgamma(px + q) - lgamma(px) - lgQ + qLogV + (px - 1)·ln m + px·ln x - (px + q)·ln(x·m + v),
 * so the likelihood (and with it every Nelder–Mead step) is bit-identical to evaluating that expression per row.
 */
interface PreparedRows extends Rows {
  logM: Float64Array;
  logX: Float64Array;
  xIndex: Int32Array;
  distinctX: Float64Array;
}

function prepare(rows: Rows): PreparedRows {
  const n = rows.x.length;
  const where = new Map<number, number>();
  const xIndex = new Int32Array(n);
  const logM = new Float64Array(n);
  const logX = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = rows.x[i]!;
    let j = where.get(x);
    if (j === undefined) where.set(x, (j = where.size));
    xIndex[i] = j;
    logM[i] = log(rows.m[i]!);
    logX[i] = log(x);
  }
  return { ...rows, logM, logX, xIndex, distinctX: Float64Array.from(where.keys()) };
}

function sumLogLik({ p, q, v }: GammaGammaParams, rows: PreparedRows): number {
  const lgQ = lgammaFn(q);
  const qLogV = q * log(v);
  const head = new Float64Array(rows.distinctX.length);
  for (let j = 0; j < head.length; j++) {
    const px = p * rows.distinctX[j]!;
    head[j] = lgammaFn(px + q) - lgammaFn(px) - lgQ + qLogV;
  }
  const { x, m, w, logM, logX, xIndex } = rows;
  let ll = 0;
  for (let i = 0; i < x.length; i++) {
    const px = p * x[i]!;
    ll += w[i]! * (head[xIndex[i]!]! + (px - 1) * logM[i]! + px * logX[i]! - (px + q) * log(x[i]! * m[i]! + v));
  }
  return ll;
}

/** Keeps x > 0 rows; x = 0 rows carry no spend information, so callers may pass every customer. */
function repeatRows(data: GammaGammaData): PreparedRows {
  const n = data.x.length;
  if (data.m.length !== n || (data.weights && data.weights.length !== n)) {
    throw new RangeError('Gamma-Gamma data: x, m (and weights) must have equal length');
  }
  const rows: Rows = { x: [], m: [], w: [] };
  for (let i = 0; i < n; i++) {
    const x = data.x[i]!;
    const w = data.weights ? data.weights[i]! : 1;
    if (!(x >= 0)) throw new RangeError(`Gamma-Gamma row ${i}: x must be >= 0`);
    if (x === 0 || w === 0) continue;
    const m = data.m[i]!;
    if (!(m > 0 && Number.isFinite(m))) throw new RangeError(`Gamma-Gamma row ${i}: repeat customers need mean value m > 0`);
    rows.x.push(x);
    rows.m.push(m);
    rows.w.push(w);
  }
  return prepare(rows);
}

export function gammaGammaLogLikelihood(params: GammaGammaParams, data: GammaGammaData): number {
  return sumLogLik(params, repeatRows(data));
}

/** ML fit on the log-parameters with restarted Nelder–Mead. */
export function fitGammaGamma(data: GammaGammaData, opts: { initial?: GammaGammaParams; maxIterations?: number } = {}): GammaGammaFit {
  const rows = repeatRows(data);
  let total = 0;
  let meanM = 0;
  for (let i = 0; i < rows.x.length; i++) {
    total += rows.w[i]!;
    meanM += rows.w[i]! * rows.m[i]!;
  }
  if (!(total > 0)) throw new RangeError('Gamma-Gamma fit needs at least one repeat customer (x > 0)');
  meanM /= total;
  // Start with population mean spend p·v/(q-1) equal to the observed mean, so v carries the currency scale.
  const init = opts.initial ?? { p: 2, q: 3, v: meanM };
  const toParams = (z: number[]): GammaGammaParams => ({ p: exp(z[0]!), q: exp(z[1]!), v: exp(z[2]!) });
  const res = nelderMead((z) => -sumLogLik(toParams(z), rows) / total, [log(init.p), log(init.q), log(init.v)], {
    maxIterations: opts.maxIterations,
  });
  const params = toParams(res.x);
  return { ...params, logLikelihood: sumLogLik(params, rows), n: total, iterations: res.iterations, converged: res.converged };
}

/**
 * E[M | x, m]: posterior mean spend per transaction, a credibility-weighted
 * blend of the population mean p·v/(q-1) and the customer's own mean m.
 * With x = 0 it is the population mean. Needs q > 1 (else the mean is infinite).
 */
export function expectedAverageSpend(params: GammaGammaParams, x: number, meanValue: number): number {
  const { p, q, v } = params;
  if (!(q > 1)) throw new RangeError('expectedAverageSpend: q must be > 1 for a finite mean');
  return (p * (v + x * meanValue)) / (p * x + q - 1);
}

export interface ClvCustomer {
  x: number;
  tx: number;
  T: number;
  /** Mean repeat-transaction value (ignored when x = 0). */
  m: number;
}

export interface ClvOptions {
  /**
   * Discount rate per step (e.g. 0.01 per month). 0 / omitted = undiscounted:
   * CLV = E[purchases in horizon] × E[spend].
   */
  discountRate?: number;
  /** Step length in the BG/NBD time unit (e.g. 30/7 weeks ≈ one month). Required when discounting. */
  step?: number;
}

/**
 * Expected value of the customer's purchases over the next `horizon` time
 * units (same unit as the BG/NBD fit). With discounting, the horizon is cut
 * into steps; the purchases expected in step k (difference of cumulative
 * expectations, last step truncated at the horizon) are discounted by
 * (1 + rate)^k — the same end-of-period scheme as lifetimes'
 * customer_lifetime_value. No margin is applied: multiply by it yourself.
 */
export function customerLifetimeValue(
  bgnbd: BgNbdParams,
  gg: GammaGammaParams,
  c: ClvCustomer,
  horizon: number,
  opts: ClvOptions = {},
): number {
  const spend = expectedAverageSpend(gg, c.x, c.x > 0 ? c.m : 0);
  const rate = opts.discountRate ?? 0;
  if (rate === 0) return spend * expectedPurchases(bgnbd, horizon, c.x, c.tx, c.T);
  const step = opts.step;
  if (!(step !== undefined && step > 0)) throw new RangeError('customerLifetimeValue: discounting needs step > 0');
  let value = 0;
  let prev = 0;
  for (let k = 1; (k - 1) * step < horizon; k++) {
    const cum = expectedPurchases(bgnbd, Math.min(k * step, horizon), c.x, c.tx, c.T);
    value += (spend * (cum - prev)) / (1 + rate) ** k;
    prev = cum;
  }
  return value;
}
