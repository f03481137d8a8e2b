/**
 * RFM segments: pure rules, shared by the SQL that segments every scoring run (src/segments/segments.sql.ts builds
 * its expressions from the constants here) and by the tests.
 *
 * Inputs per customer, as of the scoring instant (only transactions strictly before it):
 *   recency   = whole days since the last purchase (floor), fewer is better
 *   frequency = number of purchases (refunds do not count)
 *   monetary  = net spend: purchases minus the absolute amount of refunds
 * Customers without a purchase get no RFM segment (they have no recency).
 *
 * Quintile scores 1..5 (5 best) among the customers being segmented: sort worst to best, and give a customer
 * score = 1 + floor(5 · (r − 1) / n), where r is the 1-based rank of the *first* customer with the same value
 * (SQL `rank()`). Equal values therefore always get the same score (ties never split across scores, so no
 * tie-breaking by id is needed), at the price of uneven group sizes when many customers tie (e.g. one-order
 * customers all get F = 1 or the lowest score their block starts in).
 *
 * Segment from R and FM = round-half-up((F + M) / 2) on the usual R-vs-FM grid (the widely used RF segment map
 * with FM for F, and its lowest-recency/lowest-value corner split into "lost"):
 *
 *   FM \ R   1               2               3                4                     5
 *   5        cant_lose_them  cant_lose_them  loyal            loyal                 champions
 *   4        at_risk         at_risk         loyal            loyal                 champions
 *   3        at_risk         at_risk         need_attention   potential_loyalists   potential_loyalists
 *   2        lost            hibernating     about_to_sleep   potential_loyalists   potential_loyalists
 *   1        lost            hibernating     about_to_sleep   promising             new
 *
 * i.e. champions R5 FM4-5; loyal R3-4 FM4-5; potential_loyalists R4-5 FM2-3; new R5 FM1; promising R4 FM1;
 * need_attention R3 FM3; about_to_sleep R3 FM1-2; at_risk R1-2 FM3-4; cant_lose_them R1-2 FM5;
 * hibernating R2 FM1-2; lost R1 FM1-2. Every one of the 25 cells has exactly one segment.
 */

export const RFM_SEGMENTS = [
  'champions',
  'loyal',
  'potential_loyalists',
  'new',
  'promising',
  'need_attention',
  'about_to_sleep',
  'at_risk',
  'cant_lose_them',
  'hibernating',
  'lost',
] as const;
export type RfmSegment = (typeof RFM_SEGMENTS)[number];

/** RFM_GRID[r - 1][fm - 1]: the table above, one row per recency score. */
export const RFM_GRID: readonly (readonly RfmSegment[])[] = [
  ['lost', 'lost', 'at_risk', 'at_risk', 'cant_lose_them'],
  ['hibernating', 'hibernating', 'at_risk', 'at_risk', 'cant_lose_them'],
  ['about_to_sleep', 'about_to_sleep', 'need_attention', 'loyal', 'loyal'],
  ['promising', 'potential_loyalists', 'potential_loyalists', 'loyal', 'loyal'],
  ['new', 'potential_loyalists', 'potential_loyalists', 'champions', 'champions'],
];

export const QUINTILES = 5;

/** FM score: mean of F and M rounded half up, so (4, 5) → 5 and (1, 2) → 2. */
export function fmScore(f: number, m: number): number {
  return Math.floor((f + m + 1) / 2);
}

export function rfmSegment(r: number, f: number, m: number): RfmSegment {
  for (const [what, v] of [['R', r], ['F', f], ['M', m]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > QUINTILES) throw new RangeError(`${what} score must be an integer 1..5, got ${v}`);
  }
  return RFM_GRID[r - 1]![fmScore(f, m) - 1]!;
}

/** Score of 1-based min-rank `rank` among `n` (see the header): 1 + floor(5 · (rank − 1) / n). */
export function quintileOfRank(rank: number, n: number): number {
  return 1 + Math.floor((QUINTILES * (rank - 1)) / n);
}

/** Quintile scores of `values` where a larger value is better; equal values share a score. */
export function quintileScores(values: readonly number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  // min-rank of v = 1 + number of values strictly below v
  const firstIndex = new Map<number, number>();
  sorted.forEach((v, i) => {
    if (!firstIndex.has(v)) firstIndex.set(v, i);
  });
  return values.map((v) => quintileOfRank(firstIndex.get(v)! + 1, values.length));
}

export interface RfmInput {
  recencyDays: number;
  orders: number;
  netSpend: number;
}

export interface RfmResult {
  r: number;
  f: number;
  m: number;
  segment: RfmSegment;
}

/** Scores and segments a population (the same computation as the SQL, for tests and in-memory use). */
export function rfmSegments(customers: readonly RfmInput[]): RfmResult[] {
  const r = quintileScores(customers.map((c) => -c.recencyDays));
  const f = quintileScores(customers.map((c) => c.orders));
  const m = quintileScores(customers.map((c) => c.netSpend));
  return customers.map((_, i) => ({ r: r[i]!, f: f[i]!, m: m[i]!, segment: rfmSegment(r[i]!, f[i]!, m[i]!) }));
}
