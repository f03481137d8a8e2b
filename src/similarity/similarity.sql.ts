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

/** How one HNSW scan walks the graph: hnsw.ef_search (the beam) and hnsw.iterative_scan. */
export interface HnswScan {
  ef: number;
  /** strict_order when the scan's order is the answer's; relaxed_order when the rows are re-ranked anyway. */
  iterative: 'strict_order' | 'relaxed_order' | 'off';
}

/**
 * A qual that sets the scan's hnsw.ef_search and hnsw.iterative_scan inside the statement: the planner puts
 * it in a Result node's one-time filter right above the index scan, evaluated before the scan reads its first
 * tuple (pgvector reads both settings then). `true` = SET LOCAL, so they lapse with the statement's implicit
 * transaction. One round trip instead of four (begin, set_config, query, commit), which was most of a query's
 * time (BENCHMARKS.md "Similar customers"); two scans in one statement each get their own beam.
 */
export function hnswGate(scan: HnswScan): Prisma.Sql {
  const ef = Math.min(1000, Math.max(1, Math.round(scan.ef)));
  return Prisma.sql`(select set_config('hnsw.ef_search', ${String(ef)}, true) || set_config('hnsw.iterative_scan', ${scan.iterative}, true)) is not null`;
}

/**
 * Nearest first through the HNSW index of the space. The filter is a semi-join the index scan feeds: with an
 * iterative scan the walk goes on past ef_search while the filter discards candidates.
 */
export function annSql(s: Space, q: ArrayLike<number>, k: number, exclude: readonly number[], f: SimilarityFilter | null, scan: HnswScan): Prisma.Sql {
  const filter = hasFilter(f) ? Prisma.sql`and v.customer_id in (${filteredIds(f!)})` : Prisma.empty;
  return Prisma.sql`
    select v.customer_id, (${distance(s, 'v', q)})::float8 as distance
    from ${table(s)} v
    where ${hnswGate(scan)} and ${inSpace(s, 'v')} and ${notIn('v', exclude)} ${filter}
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
 * Profile candidates to pool with the blend index's for weight w: none while behaviour dominates (the blend graph
 * alone finds those, recall@10 0.996 at w 0.3), rising to `max` at w 0.5, then on to `heavyMax` at w 0.75: the
 * blend graph misses customers near in profile only, more so the heavier the profile weighs (BENCHMARKS.md
 * "Similar customers": under a 10% filter, w 0.7 gave recall 0.92 with 25 candidates, 0.99 with 50).
 */
export function semanticCandidates(w: number, k: number, max: number, heavyMax = max): number {
  if (!(max > 0)) return 0;
  const ramp = (x: number) => Math.min(1, Math.max(0, x));
  const n = w <= 0.5 ? ramp((w - 0.25) / 0.25) * max : max + ramp((w - 0.5) / 0.25) * Math.max(0, heavyMax - max);
  return n > 0 ? Math.max(k, Math.round(n)) : 0;
}

/** The blend row's two halves, compared with the query's: `semantic` and `behavior` cosine distances. */
function blendParts(sem: Space, qs: ArrayLike<number>, beh: Space, qb: ArrayLike<number>): Prisma.Sql {
  return Prisma.sql`(subvector(v.embedding, 1, ${dimSql(sem.dim)})::vector(${dimSql(sem.dim)}) <=> ${vectorParam(qs, sem.dim)})::float8 as semantic,
      (subvector(v.embedding, ${dimSql(sem.dim + 1)}, ${dimSql(beh.dim)})::vector(${dimSql(beh.dim)}) <=> ${vectorParam(qb, beh.dim)})::float8 as behavior`;
}

/**
 * BLEND through customer_blend_vectors ([profile ; behaviour], inner-product HNSW): nearest by
 * 1 + (v <#> [w·qs ; (1 − w)·qb]) = w·semantic + (1 − w)·behaviour distance, with both parts read back from the
 * row (subvector) for the answer. With `scan`, through the blend index alone; without, exactly over the filtered
 * set, ordered by an expression the index cannot serve.
 */
export function blendSql(
  sem: Space, qs: ArrayLike<number>, beh: Space, qb: ArrayLike<number>, w: number, k: number, exclude: readonly number[], f: SimilarityFilter | null, scan: HnswScan | null,
): Prisma.Sql {
  const dim = sem.dim + beh.dim;
  const ip = Prisma.sql`${castVector('v.embedding', dim)} <#> ${vectorParam(blendQuery(qs, qb, w), dim)}`;
  const filtered = hasFilter(f);
  const inBlend = Prisma.sql`v.dim = ${dimSql(dim)} and v.model = ${sem.key}`;
  const from = !scan && filtered ? Prisma.sql`(${filteredIds(f!)}) fi join customer_blend_vectors v on v.customer_id = fi.id` : Prisma.sql`customer_blend_vectors v`;
  const filter = scan && filtered ? Prisma.sql`and v.customer_id in (${filteredIds(f!)})` : Prisma.empty;
  return Prisma.sql`
    select v.customer_id, (1 + (${ip}))::float8 as distance, ${blendParts(sem, qs, beh, qb)}
    from ${from}
    where ${scan ? Prisma.sql`${hnswGate(scan)} and ` : Prisma.empty}${inBlend} and ${notIn('v', exclude)} ${filter}
    order by ${scan ? ip : Prisma.sql`(${ip}) + 0, v.customer_id`}
    limit ${k}`;
}

/**
 * Pooled BLEND, one statement: the blend index's k nearest ∪ the profile index's `candidates` nearest, re-ranked
 * by w·semantic + (1 − w)·behaviour. The blend graph reliably finds customers near in both spaces, but reaches
 * only part of the plateau of those near in one space only, whatever the beam (BENCHMARKS.md). Nothing is fetched
 * twice: the blend rows' distances come from their own halves, the profile candidates' from the profile scan, plus
 * a primary-key lookup of the small behaviour row; the big blend rows are never read by key. Each scan has its
 * own beam (hnswGate), relaxed order since the pool is re-ranked. Only customers with both vectors come back.
 */
export function pooledBlendSql(
  sem: Space, qs: ArrayLike<number>, beh: Space, qb: ArrayLike<number>, w: number, k: number, exclude: readonly number[], f: SimilarityFilter | null,
  pool: { candidates: number; blend: HnswScan; profile: HnswScan },
): Prisma.Sql {
  const filter = (alias: string) => (hasFilter(f) ? Prisma.sql`and ${Prisma.raw(alias)}.customer_id in (${filteredIds(f!)})` : Prisma.empty);
  return Prisma.sql`
    with near_blend as materialized (
      ${blendSql(sem, qs, beh, qb, w, k, exclude, f, pool.blend)}
    ), near_profile as materialized (
      select p.customer_id, (${distance(sem, 'p', qs)})::float8 as semantic
      from ${table(sem)} p
      where ${hnswGate(pool.profile)} and ${inSpace(sem, 'p')} and ${notIn('p', exclude)} ${filter('p')}
      order by ${distance(sem, 'p', qs)}
      limit ${pool.candidates}
    ), candidates as (
      select customer_id, semantic, behavior from near_blend
      union all
      select np.customer_id, np.semantic, (${distance(beh, 'b', qb)})::float8
      from near_profile np join ${table(beh)} b on b.customer_id = np.customer_id and ${inSpace(beh, 'b')}
      where np.customer_id not in (select customer_id from near_blend)
    )
    select customer_id, ${w}::float8 * semantic + (1 - ${w}::float8) * behavior as distance, semantic, behavior
    from candidates
    order by 2, customer_id
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
