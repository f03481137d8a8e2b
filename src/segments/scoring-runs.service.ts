import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { tierOfRankSql } from '../models/scoring/tiers';
import { CHURN_BANDS } from './churn-bands';
import { QUINTILES, RFM_GRID } from './rfm';

export const SEGMENT_KINDS = ['value_tier', 'rfm', 'churn_risk'] as const;
export type SegmentKindName = (typeof SEGMENT_KINDS)[number];

/**
 * Completed runs whose segment rows are kept (older runs keep their scoring_runs row, not their 3 × customers
 * segment rows). Transitions need two; a few more let BI compare further back.
 */
export const RUNS_WITH_SEGMENTS_KEPT = 10;

/**
 * The run whose segments are "current": the latest completed run by finish time (segments are computed at the
 * end of a run from the scores as they are then, so the last to finish is the freshest picture).
 */
export const CURRENT_RUN_ID = Prisma.sql`(select id from scoring_runs where status = 'completed'
  order by finished_at desc, id desc limit 1)`;

/** Advisory lock name for segment computation (hashed like the other advisory locks in the code base). */
const SEGMENT_LOCK = 'scoring-runs:segments';

type Db = Pick<PrismaClient, '$queryRaw' | '$executeRaw' | '$transaction'>;

/** Segmenting hundreds of thousands of customers takes seconds to minutes, beyond Prisma's 5 s default. */
const LONG_TX = { timeout: 600_000, maxWait: 60_000 };

export async function startScoringRun(db: Db, opts: { modelVersionId: number; full: boolean; jobRunId?: string }): Promise<number> {
  const jobRunId = opts.jobRunId && /^[0-9a-f-]{36}$/i.test(opts.jobRunId) ? opts.jobRunId : null;
  const [row] = await db.$queryRaw<{ id: number }[]>`
    insert into scoring_runs (model_version_id, job_run_id, status, "full")
    values (${opts.modelVersionId}, ${jobRunId}::uuid, 'running', ${opts.full}) returning id`;
  return Number(row!.id);
}

export async function failScoringRun(db: Db, runId: number): Promise<void> {
  await db.$executeRaw`update scoring_runs set status = 'failed', finished_at = now() where id = ${runId} and status = 'running'`;
}

/** The customers whose segment rows one statement writes: a scoring flow's segment job takes an id range. */
export interface CustomerIdRange {
  afterId: number;
  untilId: number;
}

/**
 * Segments every customer scored by the run's model version (its latest score each, so a partial run re-ranks
 * the re-scored customers against everyone else), in one set-based statement:
 *   value_tier  exact percentile of predicted CLV (src/models/scoring/tiers.ts), ties by customer id
 *   rfm         quintile scores and the R-vs-FM grid (src/segments/rfm.ts), as of `asOf`
 *   churn_risk  bands of the stored churn risk (src/segments/churn-bands.ts)
 * then copies tier and RFM name onto the scores (only rows that changed), marks the run completed and drops
 * the segment rows of runs older than the last RUNS_WITH_SEGMENTS_KEPT. One transaction: readers see the old
 * run's segments until the new one is complete.
 */
export async function completeScoringRun(db: Db, opts: { runId: number; modelVersionId: number; asOf: Date }): Promise<number> {
  return db.$transaction(
    async (tx) => {
      // One run segments at a time: concurrent runs (a refresh's partial re-score during a full scoring) would
      // otherwise update the same score rows in different orders and could deadlock; serialised, the run that
      // finishes last also saw the latest scores.
      await tx.$executeRaw`select pg_advisory_xact_lock(hashtextextended(${SEGMENT_LOCK}, 7))`;
      await writeSegments(tx, opts);
      return closeRun(tx, opts.runId);
    },
    LONG_TX,
  );
}

/**
 * The segment rows of one id range of a scoring flow's run, ranked against every customer the version has
 * scored (the ranks are global, only the writes are the range's). Ranges of one run write disjoint rows, so
 * they share the segment lock and run at once on different workers; a whole-run segmentation waits for them.
 * A retried range deletes what an earlier attempt of it committed, so it never adds rows. Readers of
 * customer_segments still see the previous run's segments until closeScoringRun marks this one completed;
 * scores.tier / scores.segment change range by range, as scores.clv already did while the ranges were scored.
 */
export async function segmentScoringRange(db: Db, opts: { runId: number; modelVersionId: number; asOf: Date; range: CustomerIdRange }): Promise<void> {
  await db.$transaction(
    async (tx) => {
      await tx.$executeRaw`select pg_advisory_xact_lock_shared(hashtextextended(${SEGMENT_LOCK}, 7))`;
      await tx.$executeRaw`delete from customer_segments where scoring_run_id = ${opts.runId}
        and customer_id > ${opts.range.afterId} and customer_id <= ${opts.range.untilId}`;
      await writeSegments(tx, opts);
    },
    LONG_TX,
  );
}

/** A flow's run once every range has its segment rows: completed, and older runs' rows dropped. */
export async function closeScoringRun(db: Db, runId: number): Promise<number> {
  return db.$transaction(
    async (tx) => {
      await tx.$executeRaw`select pg_advisory_xact_lock(hashtextextended(${SEGMENT_LOCK}, 7))`;
      return closeRun(tx, runId);
    },
    LONG_TX,
  );
}

type Tx = Pick<PrismaClient, '$queryRaw' | '$executeRaw'>;

async function writeSegments(tx: Tx, opts: { runId: number; modelVersionId: number; asOf: Date; range?: CustomerIdRange }): Promise<void> {
  const { runId, modelVersionId } = opts;
  const asOf = opts.asOf.toISOString();
  const tier = tierOfRankSql(Prisma.sql`s.rk`, Prisma.sql`s.n`);
  const bands = CHURN_BANDS.slice(0, -1).map((b) => Prisma.sql`when s.churn_risk < ${b.below}::float8 then ${b.name}`);
  const band = Prisma.sql`(case ${Prisma.join(bands, ' ')} else ${CHURN_BANDS.at(-1)!.name} end)`;
  // Applied after the window CTEs, so a range's ranks are still everyone's.
  const inRange = opts.range ? Prisma.sql`where s.customer_id > ${opts.range.afterId} and s.customer_id <= ${opts.range.untilId}` : Prisma.empty;
  // The per-customer aggregate over all transactions spills to disk at the default 4 MB; rows inserted in
  // primary-key order keep the index inserts and foreign-key lookups local (measured: ~40% faster).
  await tx.$executeRaw`set local work_mem = '64MB'`;
  // One statement: the ranking, the segment rows and the copy of tier/RFM onto the scores (only rows that
  // changed) all read the same computed `seg`.
  await tx.$executeRaw`
    with s as (
      select customer_id, churn_risk, row_number() over (order by clv desc, customer_id) - 1 as rk, count(*) over () as n
      from scores where model_version_id = ${modelVersionId}
    ), agg as (
      select t.customer_id, count(*) filter (where t.kind = 'purchase') as orders,
        sum(case when t.kind = 'purchase' then t.amount else -abs(t.amount) end) as spend,
        max(t.occurred_at) filter (where t.kind = 'purchase') as last
      from transactions t join s on s.customer_id = t.customer_id
      where t.occurred_at < ${asOf}::timestamptz
      group by t.customer_id
    ), base as (
      select customer_id, orders, spend, floor(extract(epoch from (${asOf}::timestamptz - last)) / 86400) as days
      from agg where orders > 0
    ), q as (
      select customer_id,
        1 + (${QUINTILES} * (rank() over (order by days desc) - 1)) / count(*) over () as r,
        1 + (${QUINTILES} * (rank() over (order by orders) - 1)) / count(*) over () as f,
        1 + (${QUINTILES} * (rank() over (order by spend) - 1)) / count(*) over () as m
      from base
    ), seg as (
      select s.customer_id, ${tier} as tier,
        case when q.customer_id is not null
          then (${JSON.stringify(RFM_GRID)}::jsonb -> (q.r::int - 1)) ->> (((q.f + q.m + 1) / 2)::int - 1) end as rfm,
        case when s.churn_risk is not null then ${band} end as band
      from s left join q on q.customer_id = s.customer_id ${inRange}
    ), ins as (
      insert into customer_segments (scoring_run_id, customer_id, kind, name)
      select ${runId}::int, customer_id, 'value_tier', tier from seg
      union all
      select ${runId}::int, customer_id, 'rfm', rfm from seg where rfm is not null
      union all
      select ${runId}::int, customer_id, 'churn_risk', band from seg where band is not null
      order by 3, 2
    )
    update scores sc set tier = seg.tier, segment = seg.rfm from seg
    where sc.customer_id = seg.customer_id and sc.model_version_id = ${modelVersionId}
      and (sc.tier is distinct from seg.tier or sc.segment is distinct from seg.rfm)`;
}

async function closeRun(tx: Tx, runId: number): Promise<number> {
  const [count] = await tx.$queryRaw<{ n: number }[]>`
    select count(*)::int as n from customer_segments where scoring_run_id = ${runId} and kind = 'value_tier'`;
  const n = Number(count?.n ?? 0);
  await tx.$executeRaw`
    update scoring_runs set status = 'completed', finished_at = now(), customer_count = ${n} where id = ${runId}`;
  await tx.$executeRaw`
    delete from customer_segments where scoring_run_id in (
      select id from scoring_runs where status = 'completed'
      order by finished_at desc, id desc offset ${RUNS_WITH_SEGMENTS_KEPT})`;
  return n;
}
