import { z } from 'zod';
import { loadVersion, scoreCustomers, scoreRows } from '../../models/scoring/score.service';
import { completeScoringRun, failScoringRun, startScoringRun } from '../../segments/scoring-runs.service';
import type { JobContext } from '../job.types';
import { type Handoff, HANDOFF_KEY, addFlow, flowRunId, rollUpProgress } from './flow';

/**
 * Scoring fan-out as a BullMQ flow: models.score-fanout opens one full scoring run and splits the customers
 * into id ranges; models.score-range children score a range each (upsert per (customer, version): a retried
 * range rewrites its rows, never adds any); models.score-finish (parent, same run) computes the global pieces
 * — percentile tiers, segments, transitions — once every range is written (completeScoringRun).
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

export const scoreFinishPayload = z.object({ scoringRunId: z.number().int(), modelVersionId: z.number().int(), asOf: z.coerce.date(), shares: z.number().int(), afterId: z.number().int(), untilId: z.number().int() });

const rangeIds = (runId: string, of: number) => Array.from({ length: of }, (_, i) => flowRunId(runId, `score:${i}`));

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
  const bounds = { afterId: Number(ranges[0]!.lo) - 1, untilId: Number(ranges.at(-1)!.hi) };
  await addFlow(
    ctx.db,
    { runId: ctx.runId, name: 'models.score-finish', attempts: 1, payload: { scoringRunId, modelVersionId: m.version.id, asOf: asOf.toISOString(), shares: ranges.length, ...bounds } },
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

/** Every range written → global tiers and segments in one statement; a range that failed for good fails the run. */
export async function finishScoreFlow(ctx: JobContext, p: z.infer<typeof scoreFinishPayload>) {
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
  ctx.progress(0.9, 'segmenting');
  const segmented = await completeScoringRun(ctx.db, { runId: p.scoringRunId, modelVersionId: p.modelVersionId, asOf: p.asOf });
  ctx.progress(1, `scored ${scored}, segmented ${segmented}`);
  return { modelVersionId: p.modelVersionId, scored, asOf: p.asOf.toISOString(), scoringRunId: p.scoringRunId, segmented, shares: p.shares };
}
