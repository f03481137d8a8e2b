import type { BgNbdParams } from '../models/bgnbd';

/**
 * Churn-risk bands of the stored churnRisk:
 *   low < 0.25 ≤ medium < 0.5 ≤ high < 0.75 ≤ critical
 * Lower bounds are inclusive. Customers without a churn estimate (no purchase before the scoring instant) get
 * no band.
 *
 * churnRisk is BG/NBD's probability of no purchase within the model's horizon (noPurchaseProbability below,
 * computed from P(alive)), not 1 − P(alive). Measured (bench/churn.bench.ts, BENCHMARKS.md "Segments") on Online
 * Retail II: the fitted BG/NBD has almost no dropout, so P(alive) ≈ 1 for everyone (exactly 1 for one-time
 * buyers by construction) and 1 − P(alive) ranks "no purchase in the next 180 days" worse than chance (AUC
 * 0.33, every customer in `low`); the forest's predicted CLV ranks it well (0.72) but is no probability; the
 * no-purchase probability ranks best (0.73) and its bands separate observed churn (10% / 35% / 48%).
 */
export const CHURN_BANDS = [
  { name: 'low', below: 0.25 },
  { name: 'medium', below: 0.5 },
  { name: 'high', below: 0.75 },
  { name: 'critical', below: Number.POSITIVE_INFINITY },
] as const;
export type ChurnBand = (typeof CHURN_BANDS)[number]['name'];
export const CHURN_BAND_NAMES: readonly ChurnBand[] = CHURN_BANDS.map((b) => b.name);

export function churnBand(risk: number): ChurnBand {
  if (!Number.isFinite(risk)) throw new RangeError(`churn risk must be a number, got ${risk}`);
  return CHURN_BANDS.find((b) => risk < b.below)!.name;
}

/**
 * BG/NBD probability of no purchase in the next `tWeeks` for a customer with x repeat purchases and age T weeks:
 * dead, or alive and buying nothing. Dropout happens only right after a purchase, so an alive customer who buys
 * nothing stays alive, and with λ | alive ~ Gamma(r + x, α + T): P = 1 − P(alive) · (1 − ((α + T)/(α + T + t))^(r + x)).
 */
export function noPurchaseProbability(params: Pick<BgNbdParams, 'r' | 'alpha'>, pAlive: number, x: number, T: number, tWeeks: number): number {
  const { r, alpha } = params;
  return 1 - pAlive * (1 - ((alpha + T) / (alpha + T + tWeeks)) ** (r + x));
}
