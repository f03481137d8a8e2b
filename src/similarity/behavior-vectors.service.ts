import type { PrismaClient } from '../generated/prisma/client';
import { FEATURE_SET } from '../features/features.definitions';
import { dimSql } from '../db/vector';
import {
  BEHAVIOR_DIM,
  BEHAVIOR_FEATURES,
  behaviorVector,
  CLIP,
  compactVectorLiteral,
  type FeatureStat,
  matchesSpec,
  type Standardization,
  StatsAccumulator,
} from './behavior-vectors';

type Db = Pick<PrismaClient, '$queryRaw' | '$executeRaw' | '$executeRawUnsafe'>;

/** Population change (relative to the stats' customer count) beyond which the stats are recomputed. */
export const RESTANDARDIZE_DRIFT = 0.2;

export interface BehaviorRefreshResult {
  mode: 'full' | 'incremental';
  vectors: number;
  removed: number;
  customerCount: number;
}

/** `create index if not exists` for the behaviour HNSW of a dimension (the migration builds the one for 32). */
export function behaviorIndexSql(dim: number): string {
  const d = dimSql(dim).sql;
  return `create index if not exists customer_behavior_vectors_hnsw_${d} on customer_behavior_vectors using hnsw ((embedding::vector(${d})) vector_cosine_ops) where dim = ${d}`;
}

export async function loadStandardization(db: Pick<Db, '$queryRaw'>, featureSet = FEATURE_SET): Promise<(Standardization & { dim: number }) | null> {
  const [row] = await db.$queryRaw<{ dim: number; features: unknown; clip: number; customer_count: number }[]>`
    select dim, features, clip, customer_count from behavior_vector_stats where feature_set = ${featureSet}`;
  if (!row) return null;
  const features = (typeof row.features === 'string' ? JSON.parse(row.features) : row.features) as FeatureStat[];
  return { dim: Number(row.dim), features, clip: Number(row.clip), customerCount: Number(row.customer_count) };
}

/**
 * (Re)computes behaviour vectors from the current feature snapshots. With `customerIds` (the features refresh
 * hook) only those customers are rewritten, standardized with the stored stats so their vectors agree with
 * everyone else's. The stats themselves — and then every vector — are recomputed when there are none yet, when
 * the feature spec changed, when `full` is asked for, or when the population drifted by more than
 * RESTANDARDIZE_DRIFT since they were computed. Idempotent; a crash half-way through a full pass leaves a mix of
 * old and new standardization until the next run (each vector is still valid on its own).
 */
export async function refreshBehaviorVectors(
  db: Db,
  opts: { customerIds?: readonly number[]; full?: boolean; batchSize?: number } = {},
): Promise<BehaviorRefreshResult> {
  const size = opts.batchSize ?? 2000;
  const [{ n: current } = { n: 0 }] = await db.$queryRaw<{ n: number }[]>`
    select count(*)::int as n from feature_snapshots where feature_set = ${FEATURE_SET} and is_current`;
  let stats = await loadStandardization(db);
  const drift = stats ? Math.abs(Number(current) - stats.customerCount) / Math.max(1, stats.customerCount) : Infinity;
  const full = opts.full || !opts.customerIds || !stats || stats.dim !== BEHAVIOR_DIM || !matchesSpec(stats) || drift > RESTANDARDIZE_DRIFT;

  if (!full) {
    const ids = [...new Set(opts.customerIds!)];
    let vectors = 0;
    for (let i = 0; i < ids.length; i += size) {
      const rows = await db.$queryRaw<SnapshotRow[]>`
        select customer_id, values from feature_snapshots
        where feature_set = ${FEATURE_SET} and is_current
          and customer_id in (select (jsonb_array_elements_text(${JSON.stringify(ids.slice(i, i + size))}::jsonb))::int)`;
      vectors += await writeVectors(db, rows, stats!);
    }
    // A customer whose current snapshot is gone keeps no vector computed from it.
    const removed = await db.$executeRaw`
      delete from customer_behavior_vectors v
      where v.customer_id in (select (jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))::int)
        and not exists (select 1 from feature_snapshots f where f.customer_id = v.customer_id and f.feature_set = ${FEATURE_SET} and f.is_current)`;
    return { mode: 'incremental', vectors, removed, customerCount: stats!.customerCount };
  }

  const acc = new StatsAccumulator();
  for await (const rows of snapshotBatches(db, size)) for (const r of rows) acc.add(parseValues(r.values));
  const fresh = acc.result(CLIP);
  stats = { ...fresh, dim: BEHAVIOR_DIM };
  await db.$executeRaw`
    insert into behavior_vector_stats (feature_set, dim, features, clip, customer_count, computed_at)
    values (${FEATURE_SET}, ${BEHAVIOR_DIM}, ${JSON.stringify(fresh.features)}::jsonb, ${fresh.clip}, ${fresh.customerCount}, now())
    on conflict (feature_set) do update set dim = excluded.dim, features = excluded.features, clip = excluded.clip,
      customer_count = excluded.customer_count, computed_at = excluded.computed_at`;
  await db.$executeRawUnsafe(behaviorIndexSql(BEHAVIOR_DIM));
  let vectors = 0;
  for await (const rows of snapshotBatches(db, size)) vectors += await writeVectors(db, rows, stats);
  const removed = await db.$executeRaw`
    delete from customer_behavior_vectors v
    where v.feature_set <> ${FEATURE_SET} or v.dim <> ${BEHAVIOR_DIM}
      or not exists (select 1 from feature_snapshots f where f.customer_id = v.customer_id and f.feature_set = ${FEATURE_SET} and f.is_current)`;
  return { mode: 'full', vectors, removed, customerCount: fresh.customerCount };
}

interface SnapshotRow {
  customer_id: number;
  values: unknown;
}

async function* snapshotBatches(db: Pick<Db, '$queryRaw'>, size: number): AsyncGenerator<SnapshotRow[]> {
  let after = 0;
  for (;;) {
    const rows = await db.$queryRaw<SnapshotRow[]>`
      select customer_id, values from feature_snapshots
      where feature_set = ${FEATURE_SET} and is_current and customer_id > ${after}
      order by customer_id limit ${size}`;
    if (!rows.length) return;
    after = Number(rows[rows.length - 1]!.customer_id);
    yield rows;
  }
}

function parseValues(v: unknown): Record<string, unknown> {
  return (typeof v === 'string' ? JSON.parse(v) : v ?? {}) as Record<string, unknown>;
}

async function writeVectors(db: Pick<Db, '$executeRaw'>, rows: SnapshotRow[], stats: Standardization): Promise<number> {
  if (!rows.length) return 0;
  const json = JSON.stringify(
    rows.map((r) => ({ customer_id: Number(r.customer_id), v: compactVectorLiteral(behaviorVector(parseValues(r.values), stats, BEHAVIOR_FEATURES)) })),
  );
  // Joined to customers so a customer erased meanwhile is skipped rather than failing the batch on the FK.
  return db.$executeRaw`
    insert into customer_behavior_vectors (customer_id, feature_set, dim, embedding, updated_at)
    select r.customer_id, ${FEATURE_SET}, ${BEHAVIOR_DIM}, r.v::vector, now()
    from jsonb_to_recordset(${json}::jsonb) as r(customer_id int, v text)
    join customers c on c.id = r.customer_id
    on conflict (customer_id) do update set feature_set = excluded.feature_set, dim = excluded.dim,
      embedding = excluded.embedding, updated_at = excluded.updated_at`;
}
