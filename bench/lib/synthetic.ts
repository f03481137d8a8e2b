/**
 * Deterministic synthetic customer-lifetime-value data: RFM-style signals, counts and
 * one-hot flags (lots of ties, like real CLV features), noisy copies and pure noise,
 * and a heavy-tailed target with a churn mass at zero.
 */
import { Mulberry32 } from '../../src/models/forest/rng';

export const N_FEATURES = 40;

export interface SyntheticData {
  nRows: number;
  nFeatures: number;
  /** Row-major. */
  X: Float64Array;
  y: Float64Array;
}

class Gen {
  private rng: Mulberry32;
  private spare: number | null = null;
  constructor(seed: number) {
    this.rng = new Mulberry32(seed);
  }
  u(): number {
    // 53-bit uniform in (0, 1) so log() never sees 0.
    return (this.rng.nextU32() * 2 ** 21 + (this.rng.nextU32() >>> 11) + 0.5) / 2 ** 53;
  }
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.u()));
    const t = 2 * Math.PI * this.u();
    this.spare = r * Math.sin(t);
    return r * Math.cos(t);
  }
  poisson(lambda: number): number {
    // Knuth for small means, normal approximation above; exactness is irrelevant here.
    if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
    const l = Math.exp(-lambda);
    let k = 0;
    let p = this.u();
    while (p > l) {
      k++;
      p *= this.u();
    }
    return k;
  }
}

export function makeClvData(nRows: number, seed = 7): SyntheticData {
  const g = new Gen(seed);
  const p = N_FEATURES;
  const X = new Float64Array(nRows * p);
  const y = new Float64Array(nRows);
  for (let i = 0; i < nRows; i++) {
    const tenureDays = Math.floor(30 + 1500 * g.u());
    const engagement = g.normal();
    const orders = g.poisson(Math.exp(0.8 + 0.6 * engagement) * (tenureDays / 365));
    const aov = Math.exp(3.6 + 0.5 * g.normal());
    const recencyDays = Math.min(tenureDays, Math.floor(-Math.log(g.u()) * 60 * Math.exp(-0.5 * engagement)));
    const discountShare = 1 / (1 + Math.exp(-(g.normal() - 1)));
    const returnsRate = Math.min(1, Math.max(0, 0.08 + 0.05 * g.normal()));
    const sessions30 = g.poisson(Math.exp(1 + 0.7 * engagement));
    const tickets = g.poisson(0.3 + 0.02 * orders);
    const channel = Math.floor(g.u() * 4);
    const country = Math.floor(g.u() * 12);
    const emailOpen = Math.min(1, Math.max(0, 0.25 + 0.1 * engagement + 0.1 * g.normal()));
    const categories = Math.min(12, 1 + g.poisson(0.5 + 0.3 * Math.log1p(orders)));
    const row = [
      tenureDays, orders, aov, recencyDays, discountShare, returnsRate, sessions30, tickets,
      channel === 0 ? 1 : 0, channel === 1 ? 1 : 0, channel === 2 ? 1 : 0, channel === 3 ? 1 : 0,
      country, emailOpen, categories, orders * aov,
      // Noisy proxies of the drivers, as a real feature store would have.
      Math.log1p(orders) + 0.3 * g.normal(), aov * Math.exp(0.2 * g.normal()), recencyDays + 20 * g.normal(),
      engagement + 0.8 * g.normal(), sessions30 + g.poisson(1), tenureDays / 30 + g.normal(),
    ];
    while (row.length < p) row.push(row.length % 3 === 0 ? Math.floor(g.u() * 10) : g.normal());
    X.set(row, i * p);
    const churnLogit = recencyDays / 90 - 1.5 - 0.25 * Math.log1p(orders) + 0.8 * (channel === 3 ? 1 : 0);
    const churned = g.u() < 1 / (1 + Math.exp(-churnLogit));
    const logValue =
      0.9 * Math.log1p(orders) + 0.8 * Math.log(aov) + 0.4 * engagement - 1.2 * discountShare - 2 * returnsRate +
      0.3 * Math.sin(country) + 0.15 * categories + 0.35 * g.normal();
    y[i] = churned ? 0 : Math.exp(logValue) / 10;
  }
  return { nRows, nFeatures: p, X, y };
}

/** Coefficient of determination. */
export function r2(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < yTrue.length; i++) mean += yTrue[i]!;
  mean /= yTrue.length;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < yTrue.length; i++) {
    ssRes += (yTrue[i]! - yPred[i]!) ** 2;
    ssTot += (yTrue[i]! - mean) ** 2;
  }
  return 1 - ssRes / ssTot;
}

/** First `nTrain` rows for training, the rest held out. */
export function splitRows(d: SyntheticData, nTrain: number): { train: SyntheticData; test: SyntheticData } {
  const p = d.nFeatures;
  const part = (a: number, b: number): SyntheticData => ({
    nRows: b - a,
    nFeatures: p,
    X: d.X.slice(a * p, b * p),
    y: d.y.slice(a, b),
  });
  return { train: part(0, nTrain), test: part(nTrain, d.nRows) };
}
