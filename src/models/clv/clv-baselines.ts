import { aggregate, type CustomerAttributes, type CustomerEvent, DAY_MS } from '../../features/features.definitions';
import { type BgNbdParams, compressBgNbd, expectedPurchases, fitBgNbd, probabilityAlive } from '../bgnbd';
import { expectedAverageSpend, fitGammaGamma, type GammaGammaParams } from '../gamma-gamma';
import { naivePrediction } from '../naive';

/** One customer's full event list (sorted or not) and attributes; every model filters by time itself. */
export interface History {
  key: string;
  events: CustomerEvent[];
  attrs: CustomerAttributes;
}

/** BG/NBD inputs in weeks, from purchase DAYS (several orders on one day are one purchase, as in lifetimes). */
export interface Rfm {
  x: number;
  tx: number;
  T: number;
  /** Mean spend per repeat purchase day (Gamma-Gamma's m). */
  m: number;
  /** Net spend before asOf and tenure in days, for the naive baseline. */
  net: number;
  tenureDays: number;
}

const WEEK_MS = 7 * DAY_MS;
export const MAX_FIT_CUSTOMERS = 3000;

export function rfmOf(h: History, asOf: number): Rfm | null {
  const a = aggregate(h.events, h.attrs, asOf);
  if (a.orders === 0) return null;
  const firstDay = Math.floor(a.first / DAY_MS) * DAY_MS;
  const lastDay = Math.floor(a.last / DAY_MS) * DAY_MS;
  return {
    x: Math.max(0, a.purchaseDays - 1),
    tx: (lastDay - firstDay) / WEEK_MS,
    // Whole days keep the compressed BG/NBD data small (many customers share (x, tx, T)).
    T: Math.max((lastDay - firstDay) / WEEK_MS, Math.floor((asOf - firstDay) / DAY_MS) / 7),
    m: a.repeatDayMean,
    net: a.gross - a.refunds,
    tenureDays: (asOf - a.first) / DAY_MS,
  };
}

export interface BaselineFit {
  bgnbd: BgNbdParams;
  gg: GammaGammaParams | null;
  /** Mean spend per purchase day over all customers: the spend used when Gamma-Gamma cannot be fitted. */
  meanSpend: number;
}

/** Fits BG/NBD and Gamma-Gamma on the customers' state as of `asOf` (events before it only). */
export function fitBaselines(all: readonly Rfm[]): BaselineFit {
  // Four parameters need no more than a few thousand customers; a fixed stride keeps the fit deterministic and
  // its cost bounded (Nelder–Mead evaluates the likelihood thousands of times).
  const stride = Math.max(1, Math.ceil(all.length / MAX_FIT_CUSTOMERS));
  const rfm = stride === 1 ? all : all.filter((_, i) => i % stride === 0);
  const data = compressBgNbd({ x: rfm.map((r) => r.x), tx: rfm.map((r) => r.tx), T: rfm.map((r) => r.T) });
  // Capped: when dropout is negligible (a → 0, b → ∞) the likelihood is flat and Nelder–Mead would wander for minutes.
  const fit = fitBgNbd(data, { maxIterations: 1500, restarts: 1 });
  const bgnbd: BgNbdParams = { r: fit.r, alpha: fit.alpha, a: fit.a, b: fit.b };
  const repeaters = rfm.filter((r) => r.x > 0 && r.m > 0);
  let gg: GammaGammaParams | null = null;
  if (repeaters.length >= 20) {
    try {
      const g = fitGammaGamma({ x: repeaters.map((r) => r.x), m: repeaters.map((r) => r.m) }, { maxIterations: 1500 });
      if (g.q > 1 && Number.isFinite(g.p) && Number.isFinite(g.v)) gg = { p: g.p, q: g.q, v: g.v };
    } catch {
      gg = null;
    }
  }
  const positive = rfm.filter((r) => r.net > 0);
  const meanSpend = positive.length ? positive.reduce((s, r) => s + r.net / (r.x + 1), 0) / positive.length : 0;
  return { bgnbd, gg, meanSpend };
}

export interface BaselinePrediction {
  expPurchases: number;
  pAlive: number;
  clv: number;
}

export function predictBaseline(fit: BaselineFit, r: Rfm, horizonDays: number): BaselinePrediction {
  const expPurchases = expectedPurchases(fit.bgnbd, horizonDays / 7, r.x, r.tx, r.T);
  const pAlive = probabilityAlive(fit.bgnbd, r.x, r.tx, r.T);
  const spend = fit.gg ? expectedAverageSpend(fit.gg, r.x, r.x > 0 ? r.m : 0) : r.x > 0 ? r.m : fit.meanSpend;
  const clv = expPurchases * spend;
  return { expPurchases: finite(expPurchases), pAlive: finite(pAlive), clv: finite(clv) };
}

export function naiveOf(r: Rfm, horizonDays: number): number {
  return naivePrediction({ totalSpend: r.net, tenureDays: Math.max(0, r.tenureDays) }, horizonDays);
}

const finite = (v: number) => (Number.isFinite(v) ? v : 0);
