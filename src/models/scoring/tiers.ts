/** Value tiers by exact percentile of predicted CLV: the first floor(n·p) customers by rank get the tier. */
export const TIERS = [
  { name: 'top_1', share: 0.01 },
  { name: 'top_5', share: 0.05 },
  { name: 'top_10', share: 0.1 },
  { name: 'top_25', share: 0.25 },
  { name: 'top_50', share: 0.5 },
] as const;
export const REST_TIER = 'rest';

/**
 * Ranks by CLV descending, ties broken by the key ascending so the assignment is deterministic; rank r (0-based)
 * falls in the first tier whose cut-off floor(n·share) exceeds r. Floor, so a tier never holds more than its share.
 */
export function assignTiers(clv: ArrayLike<number>, keys: ArrayLike<number>): string[] {
  const n = clv.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => clv[b]! - clv[a]! || keys[a]! - keys[b]!);
  const cuts = TIERS.map((t) => Math.floor(n * t.share));
  const out = new Array<string>(n);
  order.forEach((i, rank) => {
    const t = cuts.findIndex((c) => rank < c);
    out[i] = t >= 0 ? TIERS[t]!.name : REST_TIER;
  });
  return out;
}
