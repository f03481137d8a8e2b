/**
 * BG/NBD purchase-count model (Fader, Hardie & Lee 2005, "Counting Your
 * Customers the Easy Way"). Pure computation: fit by maximum likelihood and
 * the per-customer conditional expectations used for CLV.
 *
 * Data convention (same as the `lifetimes` library): per customer,
 *   x  = number of repeat purchases (distinct purchase periods after the first),
 *   tx = time of the last purchase measured from the first purchase (0 if x = 0),
 *   T  = time from the first purchase to the end of the calibration period,
 * all in one time unit of your choice (e.g. weeks = days / 7). alpha is in
 * that unit, so predictions must use the same unit.
 */
import { hyp2f1Log, lgamma, logAddExp, nelderMead } from './numeric';

// Module-level bindings avoid slow global lookups inside Jest's vm context.
const { abs, exp, expm1, log, max } = Math;
const NEG_INF = Number.NEGATIVE_INFINITY;
// Module-level copies: an imported function is a property read on every call in the compiled CommonJS.
const lgammaFn = lgamma;
const logAddExpFn = logAddExp;

export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

export interface BgNbdFit extends BgNbdParams {
  /** Total log-likelihood (sum over customers, weighted), at the optimum. */
  logLikelihood: number;
  iterations: number;
  converged: boolean;
}

export interface BgNbdData {
  x: ArrayLike<number>;
  tx: ArrayLike<number>;
  T: ArrayLike<number>;
  /** Optional multiplicity per row (compressed data: many customers share (x, tx, T)). */
  weights?: ArrayLike<number>;
}

export interface CompressedBgNbdData {
  x: Float64Array;
  tx: Float64Array;
  T: Float64Array;
  weights: Float64Array;
}

export interface BgNbdFitOptions {
  /** Starting point; defaults try r = 1, alpha = mean(T), a = b = 1 and a second, more dispersed start. */
  initial?: BgNbdParams;
  maxIterations?: number;
  restarts?: number;
}

function validate(data: BgNbdData): void {
  const n = data.x.length;
  if (data.tx.length !== n || data.T.length !== n || (data.weights && data.weights.length !== n)) {
    throw new RangeError('BG/NBD data: x, tx, T (and weights) must have equal length');
  }
  for (let i = 0; i < n; i++) {
    const x = data.x[i]!;
    const tx = data.tx[i]!;
    const T = data.T[i]!;
    const w = data.weights ? data.weights[i]! : 1;
    if (!(Number.isInteger(x) && x >= 0)) throw new RangeError(`BG/NBD row ${i}: x must be a non-negative integer`);
    if (!(tx >= 0 && T >= tx && Number.isFinite(T))) throw new RangeError(`BG/NBD row ${i}: need 0 <= tx <= T`);
    if (!(w >= 0 && Number.isFinite(w))) throw new RangeError(`BG/NBD row ${i}: weight must be finite and >= 0`);
  }
}

/** Merge rows with identical (x, tx, T); the likelihood only depends on these, so fitting cost drops a lot. */
export function compressBgNbd(data: BgNbdData): CompressedBgNbdData {
  validate(data);
  const index = new Map<string, number>();
  const x: number[] = [];
  const tx: number[] = [];
  const T: number[] = [];
  const w: number[] = [];
  for (let i = 0; i < data.x.length; i++) {
    const xi = data.x[i]!;
    // tx is irrelevant when x = 0; normalising it lets more rows merge.
    const txi = xi === 0 ? 0 : data.tx[i]!;
    const key = `${xi}|${txi}|${data.T[i]!}`;
    const wi = data.weights ? data.weights[i]! : 1;
    const j = index.get(key);
    if (j === undefined) {
      index.set(key, x.length);
      x.push(xi);
      tx.push(txi);
      T.push(data.T[i]!);
      w.push(wi);
    } else {
      w[j]! += wi;
    }
  }
  return { x: Float64Array.from(x), tx: Float64Array.from(tx), T: Float64Array.from(T), weights: Float64Array.from(w) };
}

/** Individual log-likelihood, eq. (6) of the paper, with the two-term sum done in log space. */
function rowLogLik(p: BgNbdParams, x: number, tx: number, T: number, lgR: number, lgB: number, lgAB: number): number {
  const { r, alpha, a, b } = p;
  const a1 = lgamma(r + x) - lgR + r * log(alpha);
  const a2 = lgAB + lgamma(b + x) - lgB - lgamma(a + b + x);
  const a3 = -(r + x) * log(alpha + T);
  // The "dropped out right after the last purchase" branch only exists when x > 0.
  const a4 = x > 0 ? log(a) - log(b + x - 1) - (r + x) * log(alpha + tx) : NEG_INF;
  return a1 + a2 + logAddExp(a3, a4);
}

export function bgNbdLogLikelihood(params: BgNbdParams, data: BgNbdData): number {
  const { r, a, b } = params;
  const lgR = lgamma(r);
  const lgB = lgamma(b);
  const lgAB = lgamma(a + b);
  let ll = 0;
  for (let i = 0; i < data.x.length; i++) {
    const w = data.weights ? data.weights[i]! : 1;
    if (w === 0) continue;
    ll += w * rowLogLik(params, data.x[i]!, data.tx[i]!, data.T[i]!, lgR, lgB, lgAB);
  }
  return ll;
}

/**
 * Compressed rows indexed by their distinct x, tx and T values. Customers share few repeat counts and (with
 * whole-day times) few ages, so the fit evaluates the lgamma and log terms once per distinct value instead of
 * once per row; each row then combines them in rowLogLik's order, so the sum is bit-identical to
 * bgNbdLogLikelihood on the same rows (and the Nelder–Mead path with it).
 */
interface IndexedRows {
  c: CompressedBgNbdData;
  xs: Float64Array;
  txs: Float64Array;
  Ts: Float64Array;
  xi: Int32Array;
  txi: Int32Array;
  Ti: Int32Array;
}

function indexRows(c: CompressedBgNbdData): IndexedRows {
  const index = (values: Float64Array) => {
    const where = new Map<number, number>();
    const at = new Int32Array(values.length);
    values.forEach((v, i) => {
      let j = where.get(v);
      if (j === undefined) where.set(v, (j = where.size));
      at[i] = j;
    });
    return { distinct: Float64Array.from(where.keys()), at };
  };
  const x = index(c.x);
  const tx = index(c.tx);
  const T = index(c.T);
  return { c, xs: x.distinct, txs: tx.distinct, Ts: T.distinct, xi: x.at, txi: tx.at, Ti: T.at };
}

function indexedLogLikelihood(params: BgNbdParams, rows: IndexedRows): number {
  const { r, alpha, a, b } = params;
  const lgR = lgammaFn(r);
  const lgB = lgammaFn(b);
  const lgAB = lgammaFn(a + b);
  const nx = rows.xs.length;
  const a12 = new Float64Array(nx);
  const a4head = new Float64Array(nx);
  const rx = new Float64Array(nx);
  const logAlpha = log(alpha);
  const logA = log(a);
  for (let j = 0; j < nx; j++) {
    const x = rows.xs[j]!;
    const a1 = lgammaFn(r + x) - lgR + r * logAlpha;
    const a2 = lgAB + lgammaFn(b + x) - lgB - lgammaFn(a + b + x);
    a12[j] = a1 + a2;
    rx[j] = r + x;
    a4head[j] = x > 0 ? logA - log(b + x - 1) : NEG_INF;
  }
  const logT = rows.Ts.map((T) => log(alpha + T));
  const logTx = rows.txs.map((tx) => log(alpha + tx));
  const { x, weights } = rows.c;
  let ll = 0;
  for (let i = 0; i < x.length; i++) {
    const w = weights[i]!;
    if (w === 0) continue;
    const j = rows.xi[i]!;
    const a3 = -rx[j]! * logT[rows.Ti[i]!]!;
    const a4 = x[i]! > 0 ? a4head[j]! - rx[j]! * logTx[rows.txi[i]!]! : NEG_INF;
    ll += w * (a12[j]! + logAddExpFn(a3, a4));
  }
  return ll;
}

const fromLog = (v: number[]): BgNbdParams => ({ r: exp(v[0]!), alpha: exp(v[1]!), a: exp(v[2]!), b: exp(v[3]!) });

/**
 * Maximum-likelihood fit. Optimises the log-parameters (positivity for free)
 * with restarted Nelder–Mead on the mean negative log-likelihood, from two
 * starting points, keeping the better optimum.
 */
export function fitBgNbd(data: BgNbdData, opts: BgNbdFitOptions = {}): BgNbdFit {
  const c = compressBgNbd(data);
  let total = 0;
  let sumT = 0;
  for (let i = 0; i < c.x.length; i++) {
    total += c.weights[i]!;
    sumT += c.weights[i]! * c.T[i]!;
  }
  if (!(total > 0)) throw new RangeError('BG/NBD fit needs at least one customer with positive weight');
  // Starting alpha at the mean age makes the start independent of the time unit.
  const meanT = max(sumT / total, 1e-9);
  const starts: BgNbdParams[] = opts.initial
    ? [opts.initial]
    : [
        { r: 1, alpha: meanT, a: 1, b: 1 },
        { r: 0.3, alpha: meanT / 4, a: 0.5, b: 3 },
      ];
  // Mean (not sum) keeps the tolerance meaningful whatever the sample size.
  const rows = indexRows(c);
  const objective = (v: number[]): number => -indexedLogLikelihood(fromLog(v), rows) / total;
  let best: ReturnType<typeof nelderMead> | undefined;
  let iterations = 0;
  for (const s of starts) {
    const res = nelderMead(objective, [log(s.r), log(s.alpha), log(s.a), log(s.b)], {
      maxIterations: opts.maxIterations,
      restarts: opts.restarts,
    });
    iterations += res.iterations;
    if (!best || res.fx < best.fx) best = res;
  }
  const params = fromLog(best!.x);
  return { ...params, logLikelihood: bgNbdLogLikelihood(params, c), iterations, converged: best!.converged };
}

/**
 * P(customer still alive | x, tx, T), eq. (A10)/(13). Always 1 for x = 0
 * because the model only lets customers drop out right after a purchase.
 */
export function probabilityAlive(params: BgNbdParams, x: number, tx: number, T: number): number {
  if (x === 0) return 1;
  const { r, alpha, a, b } = params;
  const logOdds = log(a) - log(b + x - 1) + (r + x) * (log(alpha + T) - log(alpha + tx));
  return 1 / (1 + exp(logOdds));
}

function conditionalExpectation(params: BgNbdParams, t: number, x: number, tx: number, T: number): number {
  const { r, alpha, a, b } = params;
  const c = a + b + x - 1;
  const z = t / (alpha + T + t);
  // (1 - z)^(r+x) · 2F1 is computed as one log so heavy buyers don't overflow.
  const logPow = (r + x) * (log(alpha + T) - log(alpha + T + t));
  const h = hyp2f1Log(r + x, b + x, c, z);
  const prod = logPow + h.logAbs;
  // 1 - e^L via expm1: for short horizons the two terms nearly cancel.
  const inner = h.sign > 0 ? -expm1(prod) : 1 + exp(prod);
  const numerator = (c / (a - 1)) * inner;
  if (x === 0) return numerator;
  const logOdds = log(a) - log(b + x - 1) + (r + x) * (log(alpha + T) - log(alpha + tx));
  return numerator / (1 + exp(logOdds));
}

/**
 * Conditional expected number of purchases in (T, T + t] for a customer with
 * history (x, tx, T), eq. (10) of the paper. Uses the 2F1 power series, which
 * converges because z = t / (alpha + T + t) < 1 for any finite horizon.
 */
export function expectedPurchases(params: BgNbdParams, t: number, x: number, tx: number, T: number): number {
  if (!(t >= 0)) throw new RangeError('expectedPurchases: horizon t must be >= 0');
  if (t === 0) return 0;
  // a = 1 is a removable singularity (0/0); average the two sides.
  if (abs(params.a - 1) < 1e-7) {
    const h = 1e-5;
    return (
      (conditionalExpectation({ ...params, a: 1 - h }, t, x, tx, T) + conditionalExpectation({ ...params, a: 1 + h }, t, x, tx, T)) / 2
    );
  }
  return conditionalExpectation(params, t, x, tx, T);
}

/** Unconditional E[X(t)] for a new customer, eq. (9): the x = tx = T = 0 case of eq. (10). */
export function expectedPurchasesNewCustomer(params: BgNbdParams, t: number): number {
  return expectedPurchases(params, t, 0, 0, 0);
}
