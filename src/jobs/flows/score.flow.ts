import { z } from 'zod';
import { loadVersion, scoreCustomers, scoreRows } from '../../models/scoring/score.service';
import { closeScoringRun, failScoringRun, segmentScoringRange, startScoringRun } from '../../segments/scoring-runs.service';
import type { JobContext } from '../job.types';
import { type Handoff, HANDOFF_KEY, addFlow, flowRunId, rollUpProgress } from './flow';

/**
 * Scoring fan-out as a BullMQ flow: models.score-fanout opens one full scoring run and splits the customers
 * into id ranges; models.score-range children score a range each (upsert per (customer, version): a retried
 * range rewrites its rows, never adds any); models.score-finish (parent, same run) checks that every range is
 * written and chains a second flow over the same ranges: models.score-segments children write each range's
 * segment rows (tiers, RFM, churn bands ranked against everyone, so the global pieces stay global), and
 * models.score-complete (parent, same run) marks the scoring run completed once all of them have. The segment
 * writes were a serial tail of 35–45% of a 2-worker run when the finish wrote them all (BENCHMARKS.md).
 */

export const scoreFanoutPayload = z.object({
  modelVersionId: z.number().int().positive().optional(),
  shares: z.number().int().min(1).max(256).default(3),
});

export const scoreRangePayload = z.object({
  fanoutRunId: z.string().uuid(),
  share: z.number().int().min(0),
  of: z.number().int().min(1),
  modelVersionId: z.number().int(),
  asOf: z.coerce.date(),
  afterId: z.number().int(),
  untilId: z.number().int(),
});

export const scoreFinishPayload = z.object({
  scoringRunId: z.number().int(),
  modelVersionId: z.number().int(),
  asOf: z.coerce.date(),
  shares: z.number().int(),
  afterId: z.number().int(),
  untilId: z.number().int(),
  /** The ranges' edges: range i is (edges[i], edges[i + 1]]. Absent (a job queued before it existed): one range. */
  edges: z.array(z.number().int()).optional(),
});

export const scoreSegmentsPayload = scoreFinishPayload.pick({ scoringRunId: true, modelVersionId: true, asOf: true, afterId: true, untilId: true });

export const scoreCompletePayload = scoreFinishPayload.extend({ scored: z.number().int(), edges: z.array(z.number().int()) });

const [INT_MIN, INT_MAX] = [-2147483648, 2147483647];
const rangeIds = (runId: string, of: number) => Array.from({ length: of }, (_, i) => flowRunId(runId, `score:${i}`));
const segmentIds = (runId: string, of: number) => Array.from({ length: of }, (_, i) => flowRunId(runId, `segments:${i}`));

export async function startScoreFlow(ctx: JobContext, p: z.infer<typeof scoreFanoutPayload>, useFlow: boolean): Promise<Handoff | Record<string, unknown>> {
  if (!useFlow || p.shares <= 1) {
    return { ...(await scoreCustomers(ctx.db, { modelVersionId: p.modelVersionId, jobRunId: ctx.runId, signal: ctx.signal, onProgress: (f, m) => ctx.progress(f, m) })) };
  }
  const m = await loadVersion(ctx.db, p.modelVersionId);
  const asOf = new Date();
  const ranges = await ctx.db.$queryRaw<{ lo: number; hi: number }[]>`
    select min(id) as lo, max(id) as hi from (select id, ntile(${p.shares}::int) over (order by id) as t from customers) c group by t order by t`;
  const scoringRunId = await startScoringRun(ctx.db, { modelVersionId: m.version.id, full: true, jobRunId: ctx.runId });
  const ids = rangeIds(ctx.runId, ranges.length);
  if (!ranges.length) return { scored: 0 };
  const edges = [Number(ranges[0]!.lo) - 1, ...ranges.map((r) => Number(r.hi))];
  const bounds = { afterId: edges[0]!, untilId: edges.at(-1)! };
  await addFlow(
    ctx.db,
    { runId: ctx.runId, name: 'models.score-finish', attempts: 1, payload: { scoringRunId, modelVersionId: m.version.id, asOf: asOf.toISOString(), shares: ranges.length, ...bounds, edges } },
    ranges.map((r, share) => ({
      runId: ids[share]!,
      name: 'models.score-range',
      attempts: 3,
      payload: { fanoutRunId: ctx.runId, share, of: ranges.length, modelVersionId: m.version.id, asOf: asOf.toISOString(), afterId: share === 0 ? Number(r.lo) - 1 : Number(ranges[share - 1]!.hi), untilId: Number(r.hi) },
    })),
  );
  ctx.progress(0.05, `scoring in ${ranges.length} ranges`);
  return { [HANDOFF_KEY]: { flow: 'models.score-finish', children: ranges.length }, scoringRunId };
}

export async function scoreRange(ctx: JobContext, p: z.infer<typeof scoreRangePayload>) {
  const m = await loadVersion(ctx.db, p.modelVersionId);
  const rows = await ctx.db.$queryRaw<{ id: number }[]>`select id from customers where id > ${p.afterId} and id <= ${p.untilId} order by id`;
  const ids = rangeIds(p.fanoutRunId, p.of);
  let last = 0;
  const scored = await scoreRows(ctx.db, m, p.asOf, {
    customerIds: rows.map((r) => Number(r.id)),
    signal: ctx.signal,
    onProgress: (f, msg) => {
      ctx.progress(f, msg);
      if (Date.now() - last < 500) return;
      last = Date.now();
      void rollUpProgress(ctx.db, p.fanoutRunId, ids, 0.05, 0.85, 'scoring').catch(() => {});
    },
  });
  await rollUpProgress(ctx.db, p.fanoutRunId, ids, 0.05, 0.85, 'scoring');
  return { share: p.share, scored };
}

/** Every range scored → the segment flow over the same ranges; a range that failed for good fails the run. */
export async function finishScoreFlow(ctx: JobContext, p: z.infer<typeof scoreFinishPayload>): Promise<Handoff> {
  // Customers of the ranges (added later ones wait for the next run) against the rows this run wrote.
  const [c] = await ctx.db.$queryRaw<{ total: bigint; scored: bigint }[]>`
    select count(*)::bigint as total, count(s.customer_id)::bigint as scored from customers c
    left join scores s on s.customer_id = c.id and s.model_version_id = ${p.modelVersionId} and s.scored_at = ${p.asOf.toISOString()}::timestamptz
    where c.id > ${p.afterId} and c.id <= ${p.untilId}`;
  const total = Number(c?.total ?? 0);
  const scored = Number(c?.scored ?? 0);
  if (scored < total) {
    await failScoringRun(ctx.db, p.scoringRunId);
    throw new Error(`only ${scored} of ${total} customers were scored (a range failed for good); the previous segments stay current`);
  }
  // Open-ended outer ranges: a customer created after the split and scored by a partial run meanwhile is ranked
  // in every range's statement, so one of them must write its rows too (the whole-run statement did).
  const inner = (p.edges ?? [p.afterId, p.untilId]).slice(1, -1);
  const edges = [INT_MIN, ...inner, INT_MAX];
  const of = edges.length - 1;
  const ids = segmentIds(ctx.runId, of);
  const common = { scoringRunId: p.scoringRunId, modelVersionId: p.modelVersionId, asOf: p.asOf.toISOString() };
  await addFlow(
    ctx.db,
    { runId: ctx.runId, parentKey: 'complete', name: 'models.score-complete', attempts: 1, payload: { ...p, ...common, edges, scored } },
    ids.map((runId, i) => ({ runId, name: 'models.score-segments', attempts: 3, payload: { ...common, afterId: edges[i]!, untilId: edges[i + 1]! } })),
  );
  ctx.progress(0.9, `scored ${scored}; segmenting in ${of} ranges`);
  return { [HANDOFF_KEY]: { flow: 'models.score-complete', children: of }, scored };
}

export async function segmentRange(ctx: JobContext, p: z.infer<typeof scoreSegmentsPayload>) {
  await segmentScoringRange(ctx.db, { runId: p.scoringRunId, modelVersionId: p.modelVersionId, asOf: p.asOf, range: { afterId: p.afterId, untilId: p.untilId } });
  return { afterId: p.afterId, untilId: p.untilId };
}

/**
 * Every range segmented → the run completed. A range's segment statement commits whole or not at all, so a
 * range whose customers have scores but no segment row of this run failed for good: the run fails and the
 * previous run's segments stay current.
 */
export async function completeScoreFlow(ctx: JobContext, p: z.infer<typeof scoreCompletePayload>) {
  const ranges = p.edges.slice(1).map((untilId, i) => ({ afterId: p.edges[i]!, untilId }));
  const [m] = await ctx.db.$queryRaw<{ missing: number }[]>`
    select count(*)::int as missing from jsonb_to_recordset(${JSON.stringify(ranges)}::jsonb) as r("afterId" int, "untilId" int)
    where exists (select 1 from scores s where s.model_version_id = ${p.modelVersionId} and s.customer_id > r."afterId" and s.customer_id <= r."untilId")
      and not exists (select 1 from customer_segments g where g.scoring_run_id = ${p.scoringRunId} and g.kind = 'value_tier'
        and g.customer_id > r."afterId" and g.customer_id <= r."untilId")`;
  if (Number(m?.missing ?? 0) > 0) {
    await failScoringRun(ctx.db, p.scoringRunId);
    throw new Error(`${m!.missing} of ${ranges.length} segment ranges failed for good; the previous segments stay current`);
  }
  const segmented = await closeScoringRun(ctx.db, p.scoringRunId);
  ctx.progress(1, `scored ${p.scored}, segmented ${segmented}`);
  return { modelVersionId: p.modelVersionId, scored: p.scored, asOf: p.asOf.toISOString(), scoringRunId: p.scoringRunId, segmented, shares: p.shares };
}
