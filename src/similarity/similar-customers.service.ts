import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { FEATURE_SET } from '../features/features.definitions';
import { castVector, parseVector } from '../db/vector';
import { badInput, DomainError } from '../lib/errors';
import { BEHAVIOR_DIM, centroid } from './behavior-vectors';
import {
  annSql, blendSql, exactSql, hasFilter, type HnswScan, inSpace, MAX_FILTER_VALUES, pooledBlendSql, selectiveSql, semanticCandidates, type SimilarityFilter, type Space,
  table,
} from './similarity.sql';

export type { SimilarityFilter } from './similarity.sql';
export type SimilarityMode = 'SEMANTIC' | 'BEHAVIOR' | 'BLEND';

type Db = Pick<PrismaClient, '$queryRaw'>;

export interface SimilarityConfig {
  /** The profile vectors' embedding model key and dimension (the configured model). */
  semantic: { model: string; dim: number };
  /** hnsw.ef_search for these queries (recall vs latency; BENCHMARKS.md "Similar customers"). */
  efSearch?: number;
  /** hnsw.ef_search when a filter applies; default twice efSearch. */
  efSearchFiltered?: number;
  /** Filters passing fewer than this share of customers go straight to the exact scan. */
  exactBelow?: number;
  /**
   * BLEND: at most this many profile-nearest customers pooled with the blend index's k nearest and re-ranked
   * exactly (semanticCandidates: all of them from semantic weight 0.5 on, none at 0.25 and below); 0 = blend index alone.
   */
  blendCandidates?: number;
  /**
   * The same under a (non-selective) filter: the profile scan then walks about 1/share candidates per match, so
   * the pool is kept smaller; default an eighth of blendCandidates at w 0.5, growing to twice that at w 0.75.
   */
  blendCandidatesFiltered?: number;
  /** hnsw.ef_search of each pooled BLEND scan; relaxed iterative scans carry them past it. */
  blendEfSearch?: number;
  /** The same under a filter (default 80: a filter discards candidates the walk paid for). */
  blendEfSearchFiltered?: number;
}

export interface SimilarCustomerHit {
  customerId: number;
  /** What the ranking used: cosine distance of the mode, or the weighted blend. */
  distance: number;
  semanticDistance: number | null;
  behaviorDistance: number | null;
}

export interface SimilarityResult {
  hits: SimilarCustomerHit[];
  /** hnsw: answered from the index(es); exact: scanned the (filtered) rows. Reported for tests and benchmarks. */
  strategy: 'hnsw' | 'exact';
}

export const MAX_K = 1000;
export const DEFAULTS = { efSearch: 100, exactBelow: 0.03, blendCandidates: 200, blendEfSearch: 20, blendEfSearchFiltered: 80 };

interface BothRow {
  customer_id: number;
  semantic: number;
  behavior: number;
}

interface Query {
  k: number;
  by: SimilarityMode;
  filter: SimilarityFilter | null;
  semanticWeight: number;
  exclude: number[];
  /** query vectors, present when the customer / seeds have one */
  semantic: Float64Array | null;
  behavior: Float64Array | null;
}

function spaces(cfg: SimilarityConfig): { sem: Space; beh: Space } {
  return {
    sem: { kind: 'semantic', key: cfg.semantic.model, dim: cfg.semantic.dim },
    beh: { kind: 'behavior', key: FEATURE_SET, dim: BEHAVIOR_DIM },
  };
}

function validate(k: number, max: number, weight: number, filter?: SimilarityFilter | null): void {
  for (const field of ['tier', 'segment', 'region'] as const) {
    if ((filter?.[field]?.length ?? 0) > MAX_FILTER_VALUES) {
      throw badInput(`filter.${field}: at most ${MAX_FILTER_VALUES} values`, [{ field: `filter.${field}`, message: `at most ${MAX_FILTER_VALUES} values` }]);
    }
  }
  if (!Number.isInteger(k) || k < 1 || k > max) throw badInput(`k must be between 1 and ${max}`, [{ field: 'k', message: `between 1 and ${max}` }]);
  if (!(weight >= 0 && weight <= 1)) throw badInput('semanticWeight must be between 0 and 1', [{ field: 'semanticWeight', message: 'between 0 and 1' }]);
}

/** The stored vectors of these customers in one space, by customer id. */
async function vectorsOf(db: Pick<Db, '$queryRaw'>, s: Space, ids: readonly number[]): Promise<Map<number, Float64Array>> {
  const rows = await db.$queryRaw<{ customer_id: number; v: string }[]>`
    select v.customer_id, (${castVector('v.embedding', s.dim)})::text as v from ${table(s)} v
    where ${inSpace(s, 'v')} and v.customer_id in (select (jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))::int)`;
  return new Map(rows.map((r) => [Number(r.customer_id), Float64Array.from(parseVector(r.v))]));
}

/** One customer's vectors in the spaces asked for (null where there is none), in one round trip. */
async function customerVectors(db: Pick<Db, '$queryRaw'>, id: number, sem: Space | null, beh: Space | null): Promise<[Float64Array | null, Float64Array | null]> {
  const one = (s: Space | null) =>
    s ? Prisma.sql`(select (${castVector('v.embedding', s.dim)})::text from ${table(s)} v where ${inSpace(s, 'v')} and v.customer_id = ${id}::int)` : Prisma.sql`null::text`;
  const [row] = await db.$queryRaw<{ s: string | null; b: string | null }[]>`select ${one(sem)} as s, ${one(beh)} as b`;
  const parse = (t: string | null | undefined) => (t == null ? null : Float64Array.from(parseVector(t)));
  return [parse(row?.s), parse(row?.b)];
}

/**
 * The k customers nearest to one customer. SEMANTIC compares comment profiles, BEHAVIOR the standardized
 * feature vectors, BLEND ranks by w·semantic + (1 − w)·behaviour cosine distance. BLEND for a customer without a
 * profile embedding (most customers never write) falls back to behaviour alone (semanticDistance null), and one
 * without a behaviour vector to semantic alone; when both exist, only candidates having both vectors are ranked,
 * because a missing distance cannot be blended on the same scale. The customer is never in their own results.
 */
export async function similarCustomers(
  db: Db,
  cfg: SimilarityConfig,
  q: { customerId: number; k?: number; by?: SimilarityMode; filter?: SimilarityFilter | null; semanticWeight?: number },
): Promise<SimilarityResult> {
  const k = q.k ?? 10;
  const by = q.by ?? 'BLEND';
  const weight = q.semanticWeight ?? 0.5;
  validate(k, 200, weight, q.filter);
  const { sem, beh } = spaces(cfg);
  const [s, b] = await customerVectors(db, q.customerId, by === 'BEHAVIOR' ? null : sem, by === 'SEMANTIC' ? null : beh);
  if (!s && !b) {
    const what = by === 'SEMANTIC' ? 'profile embedding (no embedded comments)' : by === 'BEHAVIOR' ? 'behaviour vector (no current feature snapshot)' : 'profile embedding or behaviour vector';
    throw new DomainError('NOT_FOUND', `customer ${q.customerId} has no ${what}`);
  }
  return nearest(db, cfg, { k, by, filter: q.filter ?? null, semanticWeight: weight, exclude: [q.customerId], semantic: s, behavior: b });
}

/**
 * A lookalike audience: the k customers nearest to the seeds' centroid (mean of their unit vectors,
 * renormalised), seeds excluded. Seeds without a vector in the space are left out of the centroid.
 */
export async function lookalikes(
  db: Db,
  cfg: SimilarityConfig,
  q: { seedCustomerIds: readonly number[]; k?: number; by?: SimilarityMode; filter?: SimilarityFilter | null; semanticWeight?: number },
): Promise<SimilarityResult> {
  const k = q.k ?? 50;
  const by = q.by ?? 'BEHAVIOR';
  const weight = q.semanticWeight ?? 0.5;
  validate(k, MAX_K, weight, q.filter);
  const seeds = [...new Set(q.seedCustomerIds)];
  if (!seeds.length) throw badInput('give at least one seed customer', [{ field: 'seedCustomerIds', message: 'at least one seed' }]);
  if (seeds.length > 10_000) throw badInput('at most 10000 seed customers', [{ field: 'seedCustomerIds', message: 'at most 10000' }]);
  const { sem, beh } = spaces(cfg);
  const [sv, bv] = await Promise.all([
    by === 'BEHAVIOR' ? new Map<number, Float64Array>() : vectorsOf(db, sem, seeds),
    by === 'SEMANTIC' ? new Map<number, Float64Array>() : vectorsOf(db, beh, seeds),
  ]);
  const centre = (m: Map<number, Float64Array>) => {
    if (!m.size) return null;
    try {
      return centroid([...m.values()]);
    } catch {
      throw badInput('the seed customers point in opposite directions: their centroid is undefined', [{ field: 'seedCustomerIds', message: 'seeds cancel out' }]);
    }
  };
  const s = centre(sv);
  const b = centre(bv);
  if (!s && !b) throw new DomainError('NOT_FOUND', 'none of the seed customers has a vector for this mode');
  return nearest(db, cfg, { k, by, filter: q.filter ?? null, semanticWeight: weight, exclude: seeds, semantic: s, behavior: b });
}

async function nearest(db: Db, cfg: SimilarityConfig, q: Query): Promise<SimilarityResult> {
  const { sem, beh } = spaces(cfg);
  const blend = q.by === 'BLEND' && q.semantic && q.behavior;
  // SEMANTIC, or BLEND for a customer (or seeds) without a behaviour vector; otherwise behaviour alone.
  const useSemantic = q.by === 'SEMANTIC' || (q.by === 'BLEND' && !q.behavior);
  const single = useSemantic ? { space: sem, v: q.semantic! } : { space: beh, v: q.behavior! };
  const selective = hasFilter(q.filter) && (await isSelective(db, q.filter!, cfg.exactBelow ?? DEFAULTS.exactBelow));
  const hit = (id: number, sd: number | null, bd: number | null, d: number): SimilarCustomerHit => ({ customerId: Number(id), distance: d, semanticDistance: sd, behaviorDistance: bd });

  if (blend) {
    const toBlendHit = (r: BothRow & { distance: number }) => hit(r.customer_id, Number(r.semantic), Number(r.behavior), Number(r.distance));
    const filtered = hasFilter(q.filter);
    if (!selective) {
      const most = cfg.blendCandidates ?? DEFAULTS.blendCandidates;
      const mostFiltered = cfg.blendCandidatesFiltered ?? Math.round(most / 8);
      // Unfiltered, `most` holds recall up to w 0.7 (0.97); a filtered pool is small and needs to grow with w.
      const candidates = filtered ? semanticCandidates(q.semanticWeight, q.k, mostFiltered, 2 * mostFiltered) : semanticCandidates(q.semanticWeight, q.k, most);
      // The pool is re-ranked exactly, so both scans walk with a narrow beam in relaxed order (candidates matter,
      // not their order): the profile scan's iterative walk carries on past ef to its `candidates` rows. A profile
      // beam as wide as the candidates (200) read twice the index pages for recall 0.976 instead of 0.968; ef 20
      // instead of 40 unfiltered: p50 11.6 → 9.8 ms, recall 0.968 → 0.960 (w 0.5; 0.972 / 0.970 at w 0.3 / 0.7).
      const blendEf = filtered ? (cfg.blendEfSearchFiltered ?? DEFAULTS.blendEfSearchFiltered) : (cfg.blendEfSearch ?? DEFAULTS.blendEfSearch);
      const blendScan: HnswScan = candidates ? { ef: blendEf, iterative: 'relaxed_order' } : { ef: efSearch(cfg, q.k, filtered), iterative: 'strict_order' };
      const sql = candidates
        ? pooledBlendSql(sem, q.semantic!, beh, q.behavior!, q.semanticWeight, q.k, q.exclude, q.filter, { candidates, blend: blendScan, profile: blendScan })
        : blendSql(sem, q.semantic!, beh, q.behavior!, q.semanticWeight, q.k, q.exclude, q.filter, blendScan);
      const rows = await db.$queryRaw<(BothRow & { distance: number })[]>(sql);
      if (rows.length >= q.k) return { hits: rows.map(toBlendHit), strategy: 'hnsw' };
    }
    const rows = await db.$queryRaw<(BothRow & { distance: number })[]>(blendSql(sem, q.semantic!, beh, q.behavior!, q.semanticWeight, q.k, q.exclude, q.filter, null));
    return { hits: rows.map(toBlendHit), strategy: 'exact' };
  }

  const { space, v } = single;
  const toHit = (r: { customer_id: number; distance: number }) => {
    const d = Number(r.distance);
    return hit(r.customer_id, space.kind === 'semantic' ? d : null, space.kind === 'behavior' ? d : null, d);
  };
  if (!selective) {
    const scan: HnswScan = { ef: efSearch(cfg, q.k, hasFilter(q.filter)), iterative: 'strict_order' };
    const rows = await db.$queryRaw<{ customer_id: number; distance: number }[]>(annSql(space, v, q.k, q.exclude, q.filter, scan));
    if (rows.length >= q.k) return { hits: rows.map(toHit), strategy: 'hnsw' };
  }
  const rows = await db.$queryRaw<{ customer_id: number; distance: number }[]>(exactSql(space, v, q.k, q.exclude, q.filter));
  return { hits: rows.map(toHit), strategy: 'exact' };
}

/**
 * ef_search bounds both recall and the rows one scan yields; iterative scans (pgvector 0.8) keep walking the
 * graph while the filter or the exclusions discard candidates, in strict distance order, up to
 * hnsw.max_scan_tuples — past that fewer than k rows come back and the caller falls back to the exact scan.
 */
function efSearch(cfg: SimilarityConfig, k: number, filtered: boolean): number {
  // A filter discards candidates the graph walk already paid for; a wider beam keeps recall up (BENCHMARKS.md).
  const plain = cfg.efSearch ?? DEFAULTS.efSearch;
  return Math.max(k, Math.round(filtered ? (cfg.efSearchFiltered ?? 2 * plain) : plain));
}

async function isSelective(db: Pick<Db, '$queryRaw'>, f: SimilarityFilter, share: number): Promise<boolean> {
  if (!(share > 0)) return false;
  const [row] = await db.$queryRaw<{ selective: boolean }[]>(selectiveSql(f, share));
  return !!row?.selective;
}
