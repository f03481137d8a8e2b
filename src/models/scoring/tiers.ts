import { Prisma } from '../../generated/prisma/client';

/** Value tiers by exact percentile of predicted CLV: the first floor(n·p) customers by rank get the tier. */
export const TIERS = [
  { name: 'top_1', share: 0.01 },
  { name: 'top_5', share: 0.05 },
  { name: 'top_10', share: 0.1 },
  { name: 'top_25', share: 0.25 },
  { name: 'top_50', share: 0.5 },
] as const;
export const REST_TIER = 'rest';
export const TIER_NAMES: readonly string[] = [...TIERS.map((t) => t.name), REST_TIER];

/** Tier of 0-based rank `rank` among n: the first tier whose cut-off floor(n·share) exceeds the rank. */
export function tierOfRank(rank: number, n: number): string {
  const t = TIERS.find((x) => rank < Math.floor(n * x.share));
  return t ? t.name : REST_TIER;
}

/**
 * Ranks by CLV descending, ties broken by the key ascending so the assignment is deterministic; rank r (0-based)
 * falls in the first tier whose cut-off floor(n·share) exceeds r. Floor, so a tier never holds more than its share.
 */
export function assignTiers(clv: ArrayLike<number>, keys: ArrayLike<number>): string[] {
  const n = clv.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => clv[b]! - clv[a]! || keys[a]! - keys[b]!);
  const out = new Array<string>(n);
  order.forEach((i, rank) => {
    out[i] = tierOfRank(rank, n);
  });
  return out;
}

/**
 * tierOfRank as a SQL expression over a 0-based rank and the population size (both bigint expressions). The
 * product is computed in float8 like the JavaScript above, so both agree on every cut-off.
 */
export function tierOfRankSql(rank: Prisma.Sql, n: Prisma.Sql): Prisma.Sql {
  const whens = TIERS.map((t) => Prisma.sql`when ${rank} < floor(${n}::float8 * ${t.share}::float8) then ${t.name}`);
  return Prisma.sql`(case ${Prisma.join(whens, ' ')} else ${REST_TIER} end)`;
}
