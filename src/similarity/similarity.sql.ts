import { Prisma } from '../generated/prisma/client';
import { CHAMPION_VERSION_ID } from '../customers/champion.sql';
import { castVector, dimSql, vectorParam } from '../db/vector';

/**
 * SQL pieces of the similar-customer queries. A "space" is one kind of customer vector: the semantic profile
 * (customer_profile_embeddings, keyed by embedding model) or the behaviour vector (customer_behavior_vectors,
 * keyed by feature set). Both are untyped vectors with their dimension beside them; every query repeats the
 * `embedding::vector(dim)` expression and the `dim = N` predicate so the partial HNSW index applies.
 */
export interface Space {
  kind: 'semantic' | 'behavior';
  key: string;
  dim: number;
}

export interface SimilarityFilter {
  /** value tier of the champion's score (scores.tier) */
  tier?: readonly string[] | null;
  /** RFM segment of the champion's score (scores.segment) */
  segment?: readonly string[] | null;
  region?: readonly string[] | null;
}

const TABLE = { semantic: Prisma.raw('customer_profile_embeddings'), behavior: Prisma.raw('customer_behavior_vectors') };
const KEY = { semantic: Prisma.raw('model'), behavior: Prisma.raw('feature_set') };

export function table(s: Space): Prisma.Sql {
  return TABLE[s.kind];
}

/** `alias.embedding::vector(dim)`: the indexed expression. */
export function expr(s: Space, alias: string): Prisma.Sql {
  return castVector(`${alias}.embedding`, s.dim);
}

/** The rows of this space: `alias.dim = N and alias.model|feature_set = key`. */
export function inSpace(s: Space, alias: string): Prisma.Sql {
  return Prisma.sql`${Prisma.raw(alias)}.dim = ${dimSql(s.dim)} and ${Prisma.raw(alias)}.${KEY[s.kind]} = ${s.key}`;
}

export function distance(s: Space, alias: string, q: ArrayLike<number>): Prisma.Sql {
  return Prisma.sql`${expr(s, alias)} <=> ${vectorParam(q, s.dim)}`;
}

export function hasFilter(f: SimilarityFilter | null | undefined): boolean {
  return !!(f && ((f.tier && f.tier.length) || (f.segment && f.segment.length) || (f.region && f.region.length)));
}

export const MAX_FILTER_VALUES = 100;

/**
 * One bind parameter per value (a handful of regions or tiers, at most MAX_FILTER_VALUES): unlike a JSON array,
 * the planner then sees the values, estimates a 1% region as 1%, and drives the exact scan from the region
 * index instead of hashing every vector.
 */
const inList = (col: Prisma.Sql, values: readonly string[]) => {
  if (values.length > MAX_FILTER_VALUES) throw new Error(`at most ${MAX_FILTER_VALUES} filter values`);
  return Prisma.sql`${col} in (${Prisma.join(values.map((v) => String(v)))})`;
};

/**
 * Ids of the customers that pass the filter (`select cu.id ...`). tier and segment are the champion's current
 * score; an empty list for a field means no condition on it.
 */
export function filteredIds(f: SimilarityFilter): Prisma.Sql {
  const conds: Prisma.Sql[] = [Prisma.sql`true`];
  if (f.region?.length) conds.push(inList(Prisma.sql`cu.region`, f.region));
  const scored = !!(f.tier?.length || f.segment?.length);
  if (f.tier?.length) conds.push(inList(Prisma.sql`s.tier`, f.tier));
  if (f.segment?.length) conds.push(inList(Prisma.sql`s.segment`, f.segment));
  const join = scored ? Prisma.sql`join scores s on s.customer_id = cu.id and s.model_version_id = ${CHAMPION_VERSION_ID}` : Prisma.empty;
  return Prisma.sql`select cu.id from customers cu ${join} where ${Prisma.join(conds, ' and ')}`;
}

/** `alias.customer_id not in (...)`: the query customer, or the seeds of a lookalike audience. */
export function notIn(alias: string, ids: readonly number[]): Prisma.Sql {
  if (!ids.length) return Prisma.sql`true`;
  if (ids.length === 1) return Prisma.sql`${Prisma.raw(alias)}.customer_id <> ${ids[0]!}::int`;
  return Prisma.sql`${Prisma.raw(alias)}.customer_id not in (select (jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))::int)`;
}

/**
 * Nearest first through the HNSW index of the space. The filter is a semi-join the index scan feeds: with
 * hnsw.iterative_scan on, the scan goes on past ef_search while the filter discards candidates.
 */
export function annSql(s: Space, q: ArrayLike<number>, k: number, exclude: readonly number[], f: SimilarityFilter | null): Prisma.Sql {
  const filter = hasFilter(f) ? Prisma.sql`and v.customer_id in (${filteredIds(f!)})` : Prisma.empty;
  return Prisma.sql`
    select v.customer_id, (${distance(s, 'v', q)})::float8 as distance
    from ${table(s)} v
    where ${inSpace(s, 'v')} and ${notIn('v', exclude)} ${filter}
    order by ${distance(s, 'v', q)}
    limit ${k}`;
}

/**
 * Exact distances over the filtered set: the filter narrows the rows first (customers by region, the champion's
 * scores), then each survivor's vector is fetched by primary key. `+ 0` keeps the planner off the HNSW index,
 * whose plain (non-iterative) scan could stop short of k rows.
 */
export function exactSql(s: Space, q: ArrayLike<number>, k: number, exclude: readonly number[], f: SimilarityFilter | null): Prisma.Sql {
  const from = hasFilter(f)
    ? Prisma.sql`(${filteredIds(f!)}) fi join ${table(s)} v on v.customer_id = fi.id`
    : Prisma.sql`${table(s)} v`;
  return Prisma.sql`
    select v.customer_id, (${distance(s, 'v', q)})::float8 as distance
    from ${from}
    where ${inSpace(s, 'v')} and ${notIn('v', exclude)}
    order by (${distance(s, 'v', q)}) + 0, v.customer_id
    limit ${k}`;
}

/** [w·semantic ; (1 − w)·behaviour]: its inner product with a blend row is 1 − the blended cosine distance. */
export function blendQuery(qs: ArrayLike<number>, qb: ArrayLike<number>, w: number): Float64Array {
  const out = new Float64Array(qs.length + qb.length);
  for (let i = 0; i < qs.length; i++) out[i] = w * qs[i]!;
  for (let i = 0; i < qb.length; i++) out[qs.length + i] = (1 - w) * qb[i]!;
  return out;
}

/**
 * Semantic candidates to add to the blend index's own for weight w: none while behaviour dominates (the blend
 * graph alone finds those, recall@10 0.996 at w 0.3), up to `max` from w 0.5 on (BENCHMARKS.md "Similar
 * customers": the blend graph misses customers near in profile only, more so the heavier the profile weighs).
 */
export function semanticCandidates(w: number, k: number, max: number): number {
  const ramp = Math.min(1, Math.max(0, (w - 0.25) / 0.25));
  return ramp > 0 && max > 0 ? Math.max(k, Math.round(ramp * Math.max(max, k))) : 0;
}

/**
 * BLEND through customer_blend_vectors ([profile ; behaviour], inner-product HNSW): nearest by
 * 1 + (v <#> [w·qs ; (1 − w)·qb]) = w·semantic + (1 − w)·behaviour distance, with both parts read back from the
 * row (subvector) for the answer. `exact`: over the filtered set, ordered by an expression the index cannot serve.
 *
 * With `candidates` > 0 (index path), the blend index's k nearest are pooled with the `candidates` nearest by
 * profile (the profile HNSW) and the pool is re-ranked exactly by the blend row of each (primary-key lookups): the
 * blend graph reliably finds customers near in both spaces, but reaches only part of the plateau of customers near
 * in one space only, and a larger beam does not help (BENCHMARKS.md). Only customers with a blend row, i.e. both
 * vectors, can come back, as in the other paths.
 */
export function blendSql(
  sem: Space, qs: ArrayLike<number>, beh: Space, qb: ArrayLike<number>, w: number, k: number, exclude: readonly number[], f: SimilarityFilter | null, exact: boolean,
  candidates = 0,
): Prisma.Sql {
  const dim = sem.dim + beh.dim;
  const bq = vectorParam(blendQuery(qs, qb, w), dim);
  const ip = Prisma.sql`${castVector('v.embedding', dim)} <#> ${bq}`;
  const filtered = hasFilter(f);
  const parts = Prisma.sql`(subvector(v.embedding, 1, ${dimSql(sem.dim)})::vector(${dimSql(sem.dim)}) <=> ${vectorParam(qs, sem.dim)})::float8 as semantic,
      (subvector(v.embedding, ${dimSql(sem.dim + 1)}, ${dimSql(beh.dim)})::vector(${dimSql(beh.dim)}) <=> ${vectorParam(qb, beh.dim)})::float8 as behavior`;
  const inBlend = Prisma.sql`v.dim = ${dimSql(dim)} and v.model = ${sem.key}`;
  if (!exact && candidates > 0) {
    const filter = (alias: string) => (filtered ? Prisma.sql`and ${Prisma.raw(alias)}.customer_id in (${filteredIds(f!)})` : Prisma.empty);
    return Prisma.sql`
      with pool as (
        (select v.customer_id from customer_blend_vectors v
         where ${inBlend} and ${notIn('v', exclude)} ${filter('v')}
         order by ${ip} limit ${k})
        union
        (select p.customer_id from ${table(sem)} p
         where ${inSpace(sem, 'p')} and ${notIn('p', exclude)} ${filter('p')}
         order by ${distance(sem, 'p', qs)} limit ${candidates})
      ), top as (
        select v.customer_id, v.embedding, (1 + (${ip}))::float8 as distance
        from pool join customer_blend_vectors v on v.customer_id = pool.customer_id and ${inBlend}
        order by (${ip}) + 0, v.customer_id
        limit ${k}
      )
      select v.customer_id, v.distance, ${parts}
      from top v
      order by v.distance, v.customer_id`;
  }
  const from = exact && filtered ? Prisma.sql`(${filteredIds(f!)}) fi join customer_blend_vectors v on v.customer_id = fi.id` : Prisma.sql`customer_blend_vectors v`;
  const filter = !exact && filtered ? Prisma.sql`and v.customer_id in (${filteredIds(f!)})` : Prisma.empty;
  const order = exact ? Prisma.sql`(${ip}) + 0, v.customer_id` : ip;
  return Prisma.sql`
    select v.customer_id, (1 + (${ip}))::float8 as distance, ${parts}
    from ${from}
    where ${inBlend} and ${notIn('v', exclude)} ${filter}
    order by ${order}
    limit ${k}`;
}

/**
 * Exact BLEND straight from the two source tables (not the blend table): the benchmark's ground truth.
 */
export function exactBlendSql(
  sem: Space, qs: ArrayLike<number>, beh: Space, qb: ArrayLike<number>, w: number, k: number, exclude: readonly number[], f: SimilarityFilter | null,
): Prisma.Sql {
  const from = hasFilter(f)
    ? Prisma.sql`(${filteredIds(f!)}) fi join ${table(sem)} s on s.customer_id = fi.id`
    : Prisma.sql`${table(sem)} s`;
  return Prisma.sql`
    select customer_id, semantic, behavior from (
      select s.customer_id, (${distance(sem, 's', qs)})::float8 as semantic, (${distance(beh, 'b', qb)})::float8 as behavior
      from ${from}
      join ${table(beh)} b on b.customer_id = s.customer_id and ${inSpace(beh, 'b')}
      where ${inSpace(sem, 's')} and ${notIn('s', exclude)}
    ) d
    order by ${w}::float8 * semantic + (1 - ${w}::float8) * behavior, customer_id
    limit ${k}`;
}

/**
 * Whether fewer than `share` of all customers pass the filter, in one round trip. Counting stops at that
 * threshold, so a broad filter costs a few thousand index rows and a narrow one is counted from the same rows the
 * exact scan then reads. The total is the planner's estimate (exact count only for a never-analysed table).
 */
export function selectiveSql(f: SimilarityFilter, share: number): Prisma.Sql {
  return Prisma.sql`
    with t as (
      select greatest(1, ceil(${share}::float8 * coalesce(
        (select nullif(greatest(reltuples, 0), 0) from pg_class where oid = 'customers'::regclass),
        (select count(*) from customers))))::int as cap)
    select (select count(*) from (${filteredIds(f)} limit (select cap from t)) x) < (select cap from t) as selective`;
}
