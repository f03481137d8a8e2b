import { z } from 'zod';
import type { PrismaClient } from '../../generated/prisma/client';
import type { History } from '../../models/clv/clv-baselines';
import { type ClvTrainOptions, DEFAULT_FOREST, firstEventOf, planWindows, trainClvForest } from '../../models/clv/clv-forest';
import { scoreCustomers } from '../../models/scoring/score.service';
import { MODEL_KIND, type TrainRequest, TrainingHandedOff, clvInputs, loadAllHistories, trainModelVersion, trainingKeys } from '../../models/training/train.service';
import { type Chunk, type RoleSet, capturingTrainer, chunkPlan, fitCache, rowsId, summarize, supplyingTrainer } from '../../models/training/train-flow';
import type { JobContext } from '../job.types';
import { deleteBlobs, getBlob, putBlob, sweepBlobs } from './job-blobs';
import { shareFits } from './train-fits';
import { type ChunkWork, ROWS_MARK, addTreeJobs, collectChunks, growChunks, treeJobIds, treeJobRuns } from './train-shares';

/**
 * Fan-out training (BullMQ). The models.train job coordinates and works:
 *   1. queues models.train-trees jobs for the other workers at once, then, like each of them, loads the
 *      histories, takes its part of the baseline fits (train-fits.ts) and builds the training rows in memory (the
 *      single-process code, stopped where it would grow a forest: TrainingHandedOff);
 *   2. every participant claims chunks of trees until none is left (train-shares.ts); the coordinator then waits
 *      for the chunks others are growing and grows those of a claimer that died;
 *   3. replays the single-process training on the same histories and fits with the grown trees (the supplying
 *      trainer checks the rows are the recorded ones), evaluates, promotes and scores.
 * Tree seeds depend only on (forest seed, tree index): the forest equals one grown in one process, byte for byte.
 * Every worker builds the rows itself: shipping them through PostgreSQL (one blob, 15 MB deflated at 60k
 * customers) made the other workers wait for the coordinator's rows, its put and their read — longer than
 * building them (BENCHMARKS.md, issue 8). Earlier still, history-loading children and a merge job moved tens of
 * MB per hop.
 * Progress of the run: rows 0–0.4, trees 0.4–0.85, replay, promotion and scoring 0.85–1.
 */

/** Fault injection for tests and drills (like failAfterVersionRow): a tree job that always fails, slow trees. */
export const flowDrill = z.object({
  failShare: z.number().int().min(0).optional(),
  treeDelayMs: z.number().int().min(0).max(60_000).optional(),
});
export type FlowDrill = z.infer<typeof flowDrill>;

/**
 * Every tree worker loads the histories and builds the rows itself (≈ 10 s at 60k customers, in parallel but
 * slower when the workers share cores) and sorts every column once per forest, so a fan-out pays only when the
 * trees dominate: at 60k customers 100 trees on 2 workers took 46 s against 68 s on one, 10 trees 20 s against
 * 18 s (BENCHMARKS.md, issue 8). The configured TRAIN_FANOUT is therefore capped at one participant per this many
 * trees of the main forest; an explicit `fanout` option is taken as given.
 */
export const TREES_PER_PARTICIPANT = 25;

export function defaultFanout(configured: number, nEstimators: number | undefined): number {
  return Math.max(1, Math.min(configured, Math.floor((nEstimators ?? DEFAULT_FOREST.nEstimators ?? 100) / TREES_PER_PARTICIPANT)));
}

/** models.train's options without the fan-out fields (the single-process handler takes the same object). */
export interface TrainOptions {
  force: boolean;
  score: boolean;
  failAfterVersionRow: boolean;
  metric?: TrainRequest['metric'];
  target?: TrainRequest['target'];
  holdoutFraction?: number;
  [forestOption: string]: unknown;
}

export const treesPayload = z.object({
  trainRunId: z.string().uuid(),
  share: z.number().int().min(0),
  of: z.number().int().min(1),
  horizonDays: z.number().int().min(1),
  cutoff: z.coerce.date(),
  options: z.record(z.string(), z.unknown()),
  drill: flowDrill.optional(),
});

export { TREE_ATTEMPTS } from './train-shares';

/** Same mapping from job options to a TrainRequest as models.train's single-process path. */
function requestOf(horizonDays: number, cutoff: Date, options: TrainOptions, runId: string): TrainRequest {
  const { force, metric, target, holdoutFraction, score: _score, failAfterVersionRow, ...forest } = options;
  return { horizonDays, cutoff, force, metric, target, holdoutFraction, forest, jobRunId: runId, failAfterVersionRow };
}

/** The training rows of a request, built as the run builds them (TrainingHandedOff stops it before the trees). */
async function captureRows(db: PrismaClient, req: TrainRequest, histories: History[], fit: ClvTrainOptions['fitBaselines'], onStep: (message: string) => void): Promise<RoleSet[]> {
  const cap = capturingTrainer();
  const inputs = await clvInputs(db, req, histories, req.cutoff!, trainingKeys(histories, req));
  try {
    trainClvForest(histories, req.cutoff!.getTime(), { ...inputs.options, trainForest: cap.trainer, fitBaselines: fit, onProgress: (_f, m) => onStep(m ?? 'building rows') });
    throw new Error('training finished without handing its rows over');
  } catch (err) {
    if (!(err instanceof TrainingHandedOff)) throw err;
  }
  return cap.sets;
}

/** The windows' as-of dates trainModelVersion will fit at, and the cutoff's ([] with too little history). */
function fitDates(histories: readonly History[], cutoff: Date, horizonDays: number): number[] {
  try {
    return [...planWindows(firstEventOf(histories, cutoff.getTime()), cutoff.getTime(), horizonDays).asOfs, cutoff.getTime()];
  } catch {
    return []; // trainModelVersion fails with the reason
  }
}

const treeProgress = (ctx: JobContext, from: number, span: number, plan: readonly Chunk[], drill?: FlowDrill) => {
  const total = plan.reduce((n, c) => n + c.count, 0);
  let grown = 0;
  return (c: Chunk, done: number) => {
    if (ctx.signal.aborted) throw new Error('training aborted (worker shutting down)');
    if (drill?.treeDelayMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, drill.treeDelayMs);
    if (done === c.count) grown += c.count;
    ctx.progress(Math.min(from + span, from + (span * grown) / total), `${c.role} tree ${c.first + done}, ${grown} trees grown here`);
  };
};

const CUTOFF_BLOB = 'cutoff';

export async function startTrainingFlow(
  ctx: JobContext,
  p: { horizonDays: number; cutoff?: Date; options: TrainOptions; drill?: FlowDrill },
  shares: number,
) {
  // The cutoff is fixed here (and kept for a retry of this job: the tree jobs already have it): the capture, the
  // tree jobs and the replay must read the same histories.
  const kept = await getBlob(ctx.db, ctx.runId, CUTOFF_BLOB);
  const cutoff = p.cutoff ?? (kept ? new Date(kept.toString()) : new Date());
  if (!p.cutoff && !kept) await putBlob(ctx.db, ctx.runId, CUTOFF_BLOB, Buffer.from(cutoff.toISOString()));
  try {
    return await coordinate(ctx, { ...p, cutoff }, shares);
  } catch (err) {
    // The replay marks its own failures; a failed tree job (or anything before the replay) leaves 'training'.
    await markFailed(ctx.db, ctx.runId, err instanceof Error ? err.message : String(err));
    throw err;
  } finally {
    await deleteBlobs(ctx.db, ctx.runId);
  }
}

async function coordinate(ctx: JobContext, p: { horizonDays: number; cutoff: Date; options: TrainOptions; drill?: FlowDrill }, shares: number) {
  const { cutoff } = p;
  const req = requestOf(p.horizonDays, cutoff, p.options, ctx.runId);
  const phases = phaseClock();
  // Queued first: the other workers build the rows alongside this one. A retried coordinator re-adds the same ids.
  await sweepBlobs(ctx.db).catch(() => 0);
  await addTreeJobs(ctx.db, ctx.runId, shares, { horizonDays: p.horizonDays, cutoff: cutoff.toISOString(), options: p.options, drill: p.drill });
  ctx.progress(0.01, 'loading histories');
  const histories = await loadAllHistories(ctx.db, cutoff);
  phases.mark('load');
  const fits = fitCache(new Map());
  const windowCache: NonNullable<ClvTrainOptions['windowCache']> = new Map();
  ctx.progress(0.05, 'fitting the baselines');
  await shareFits(ctx, ctx.runId, histories, fitDates(histories, cutoff, p.horizonDays), { index: 0, of: shares }, fits.cache);
  phases.mark('fits');
  const cap = capturingTrainer();
  try {
    await trainModelVersion(ctx.db, req, { progress: (f, m) => ctx.progress(0.4 * f, m), signal: ctx.signal, trainForest: cap.trainer, fitBaselines: fits.fit, histories, windowCache });
    throw new Error('training finished without handing its rows over');
  } catch (err) {
    if (!(err instanceof TrainingHandedOff)) throw err;
  }
  const roles = cap.sets.map(summarize);
  const rows = rowsId(roles);
  await putBlob(ctx.db, ctx.runId, ROWS_MARK, Buffer.from(rows));
  phases.mark('rows');
  const plan = chunkPlan(roles, shares);
  const jobIds = treeJobIds(ctx.runId, shares).slice(1);
  // A tree job that failed for good fails the run (collectChunks): checked between chunks too, not only at the end.
  const stop = async () => (await treeJobRuns(ctx.db, jobIds), false);
  const work: ChunkWork = { flowRun: ctx.runId, rows, plan, sets: cap.sets, onTree: treeProgress(ctx, 0.4, 0.45, plan, p.drill), store: false, stop };
  const own = await growChunks(ctx, work);
  phases.mark('ownTrees');
  const forests = await collectChunks(ctx, work, own, jobIds);
  phases.mark('waitTrees');
  ctx.progress(0.85, 'merging trees');
  const out = await trainModelVersion(ctx.db, req, {
    histories,
    progress: (f, m) => ctx.progress(0.85 + 0.1 * f, m),
    signal: ctx.signal,
    trainForest: supplyingTrainer(roles, forests),
    fitBaselines: fits.fit,
    windowCache,
  });
  phases.mark('replay');
  let scored = 0;
  if (out.promoted && p.options.score) {
    const s = await scoreCustomers(ctx.db, { modelVersionId: out.modelVersionId, signal: ctx.signal, onProgress: (f, m) => ctx.progress(0.95 + 0.05 * f, m) });
    scored = s.scored;
    phases.mark('score');
  }
  ctx.progress(1, 'done');
  const grownHere = [...own.values()].reduce((n, f) => n + f.nTrees, 0);
  return { modelVersionId: out.modelVersionId, promoted: out.promoted, reason: out.reason, trainingRows: out.trainingRows, scored, shares, treesGrownHere: grownHere, phasesMs: phases.done() };
}

/** Milliseconds spent in each named step (in the run's result: where a fan-out's wall time goes). */
export function phaseClock() {
  const out: Record<string, number> = {};
  let last = performance.now();
  return {
    mark(name: string) {
      const now = performance.now();
      out[name] = Math.round((out[name] ?? 0) + now - last);
      last = now;
    },
    done: () => out,
  };
}

/**
 * models.train-trees: builds the run's training rows like the coordinator (same histories, cutoff and fits), then
 * claims and grows chunks of trees until none is left, storing each. Nothing to do when the run has finished or
 * its rows differ from the coordinator's (data written before the cutoff meanwhile: the coordinator grows all).
 */
export async function trainTreesShare(ctx: JobContext, p: z.infer<typeof treesPayload>): Promise<{ share: number; trees: number; skipped?: string; phasesMs?: Record<string, number> }> {
  if (p.drill?.failShare === p.share) throw new Error(`planned failure of tree share ${p.share}`);
  const skip = (why: string) => ({ share: p.share, trees: 0, skipped: why });
  if (await runFinished(ctx.db, p.trainRunId)) return skip('run already finished');
  const phases = phaseClock();
  // Heartbeats while loading and building rows (minutes at 100x): a silent claimer's chunks are grown elsewhere.
  const histories = await loadAllHistories(ctx.db, p.cutoff, (n) => ctx.progress(0, `loaded ${n} histories`));
  phases.mark('load');
  if (await runFinished(ctx.db, p.trainRunId)) return skip('run already finished');
  let sawMark = false;
  try {
    const fits = fitCache(new Map());
    await shareFits(ctx, p.trainRunId, histories, fitDates(histories, p.cutoff, p.horizonDays), { index: p.share, of: p.of }, fits.cache);
    phases.mark('fits');
    const req = requestOf(p.horizonDays, p.cutoff, p.options as unknown as TrainOptions, p.trainRunId);
    const sets = await captureRows(ctx.db, req, histories, fits.fit, (m) => ctx.progress(0, m));
    const roles = sets.map(summarize);
    const rows = rowsId(roles);
    phases.mark('rows');
    let differs: string | undefined;
    const stop = async () => {
      const mark = (await getBlob(ctx.db, p.trainRunId, ROWS_MARK))?.toString();
      sawMark ||= mark !== undefined;
      if (mark && mark !== rows) differs = `its training rows differ from the coordinator's (${rows} vs ${mark})`;
      return Boolean(differs) || (await runFinished(ctx.db, p.trainRunId));
    };
    const plan = chunkPlan(roles, p.of);
    const grown = await growChunks(ctx, { flowRun: p.trainRunId, rows, plan, sets, onTree: treeProgress(ctx, 0, 1, plan, p.drill), store: true, stop });
    if (differs && !grown.size) return skip(differs);
    phases.mark('trees');
    const trees = [...grown.values()].reduce((n, f) => n + f.nTrees, 0);
    ctx.progress(1, `${trees} trees`);
    return { share: p.share, trees, ...(trees ? {} : { skipped: 'every chunk was taken by others' }), phasesMs: phases.done() };
  } finally {
    // The coordinator deletes the run's blobs when it ends; what this job wrote after that is removed here. The
    // check follows this job's last write, so a write is either seen by the coordinator's delete or by this one.
    const gone = sawMark && !(await getBlob(ctx.db, p.trainRunId, ROWS_MARK));
    if (gone || (await runFinished(ctx.db, p.trainRunId))) await deleteBlobs(ctx.db, p.trainRunId);
  }
}

async function runFinished(db: PrismaClient, runId: string): Promise<boolean> {
  const run = await db.jobRun.findUnique({ where: { id: runId }, select: { finishedAt: true } });
  return !run || run.finishedAt !== null;
}

async function markFailed(db: PrismaClient, runId: string, error: string): Promise<void> {
  await db.$executeRaw`update model_versions set status = 'failed', error = ${error}, finished_at = now()
    where job_run_id = ${runId}::uuid and kind = ${MODEL_KIND} and status = 'training'`;
}
