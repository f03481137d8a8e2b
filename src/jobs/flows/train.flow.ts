import { z } from 'zod';
import type { PrismaClient } from '../../generated/prisma/client';
import { type ClvTrainOptions, firstEventOf, planWindows } from '../../models/clv/clv-forest';
import { type Forest, serializeForest } from '../../models/forest';
import { scoreCustomers } from '../../models/scoring/score.service';
import { MODEL_KIND, type TrainRequest, TrainingHandedOff, loadAllHistories, trainModelVersion } from '../../models/training/train.service';
import { type Role, type RoleSet, capturingTrainer, fitCache, packRoleSets, summarize, supplyingTrainer, trainShare, unpackRoleSets } from '../../models/training/train-flow';
import type { JobContext } from '../job.types';
import { blobNames, deleteBlobs, getBlob, putBlob } from './job-blobs';
import { prefitBaselines } from './train-fits';
import { SETS_BLOB, addTreeJobs, collectShares, treesName } from './train-shares';

/**
 * Fan-out training (BullMQ). The models.train job coordinates and works:
 *   1. loads the histories, fits the baselines (half of the fits by a models.train-fit job: train-fits.ts) and
 *      builds the training rows in memory (the single-process code, stopped where it would grow a forest:
 *      TrainingHandedOff), stores the rows as job blobs;
 *   2. queues models.train-trees jobs for shares 1..k−1 of every forest's trees and grows share 0 itself from the
 *      rows in memory; a share no worker has started by then it grows too (train-shares.ts), so a fan-out larger
 *      than the free workers costs only the rows blob, never a wait;
 *   3. replays the single-process training on the same histories and fits with the grown trees (the supplying
 *      trainer checks the rows are the recorded ones), evaluates, promotes and scores.
 * Tree seeds depend only on (forest seed, tree index): the forest equals one grown in one process, byte for byte.
 * Earlier versions chained two flows (history-loading children, a rows step, tree children, a merge job): every hop
 * moved tens of MB of histories and rows through PostgreSQL and the merge reloaded them, which cost more than the
 * parallel loading saved (BENCHMARKS.md, issue 8).
 * Progress of the run: rows 0–0.4, trees 0.4–0.85, replay, promotion and scoring 0.85–1.
 */

/** Fault injection for tests and drills (like failAfterVersionRow): a share job that always fails, slow trees. */
export const flowDrill = z.object({
  failShare: z.number().int().min(0).optional(),
  treeDelayMs: z.number().int().min(0).max(60_000).optional(),
});
export type FlowDrill = z.infer<typeof flowDrill>;

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
  roles: z.array(z.enum(['main', 'calibration'])),
  drill: flowDrill.optional(),
});

export { TREE_ATTEMPTS } from './train-shares';

/** Same mapping from job options to a TrainRequest as models.train's single-process path. */
function requestOf(horizonDays: number, cutoff: Date, options: TrainOptions, runId: string): TrainRequest {
  const { force, metric, target, holdoutFraction, score: _score, failAfterVersionRow, ...forest } = options;
  return { horizonDays, cutoff, force, metric, target, holdoutFraction, forest, jobRunId: runId, failAfterVersionRow };
}

/** Share `share` of every role's trees, grown here (a role with no tree in this share maps to null). */
export function growShare(sets: readonly RoleSet[], share: number, of: number, onTree?: (role: Role, done: number, total: number) => void): Map<Role, Forest | null> {
  return new Map(sets.map((set) => [set.role, trainShare(set, share, of, (d, t) => onTree?.(set.role, d, t))]));
}

export async function startTrainingFlow(
  ctx: JobContext,
  p: { horizonDays: number; cutoff?: Date; options: TrainOptions; drill?: FlowDrill },
  shares: number,
) {
  // The cutoff is fixed here: the capture and the replay must read the same histories.
  const cutoff = p.cutoff ?? new Date();
  try {
    return await coordinate(ctx, { ...p, cutoff }, shares);
  } catch (err) {
    // The replay marks its own failures; a failed share (or anything before the replay) leaves 'training'.
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
  ctx.progress(0.01, 'loading histories');
  const histories = await loadAllHistories(ctx.db, cutoff);
  phases.mark('load');
  const cap = capturingTrainer();
  const fits = fitCache(new Map());
  const windowCache: NonNullable<ClvTrainOptions['windowCache']> = new Map();
  let asOfs: number[] = [];
  try {
    // The windows trainModelVersion will use (same call): half of their fits, and the cutoff's, by another worker.
    asOfs = [...planWindows(firstEventOf(histories, cutoff.getTime()), cutoff.getTime(), p.horizonDays).asOfs, cutoff.getTime()];
  } catch {
    // Too little history: trainModelVersion below fails with the reason.
  }
  ctx.progress(0.05, 'fitting the baselines');
  await prefitBaselines(ctx, histories, asOfs, fits.cache);
  phases.mark('fits');
  try {
    await trainModelVersion(ctx.db, req, { progress: (f, m) => ctx.progress(0.4 * f, m), signal: ctx.signal, trainForest: cap.trainer, fitBaselines: fits.fit, histories, windowCache });
    throw new Error('training finished without handing its rows over');
  } catch (err) {
    if (!(err instanceof TrainingHandedOff)) throw err;
  }
  const roles = cap.sets.map(summarize);
  const of = Math.max(1, Math.min(shares, ...roles.map((r) => r.nTrees)));
  phases.mark('rows');
  if (of > 1) {
    // A retried coordinator finds its jobs queued already (fixed ids): re-adding is a no-op.
    await putBlob(ctx.db, ctx.runId, SETS_BLOB, await packRoleSets(cap.sets));
    await addTreeJobs(ctx.db, ctx.runId, of, roles.map((r) => r.role), p.drill);
  }
  phases.mark('handout');
  const trees = (k: number) => (role: Role, done: number, total: number) => {
    if (ctx.signal.aborted) throw new Error('training aborted (worker shutting down)');
    if (p.drill?.treeDelayMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, p.drill.treeDelayMs);
    ctx.progress(0.4 + (0.45 * (k + done / total / roles.length)) / of, `share ${k + 1}/${of}: ${role} tree ${done}/${total}`);
  };
  const own = growShare(cap.sets, 0, of, trees(0));
  phases.mark('ownShare');
  const forests = await collectShares(ctx, {
    of,
    roles: roles.map((r) => r.role),
    own,
    grow: async (share) => {
      const grown = growShare(cap.sets, share, of, trees(share));
      // Stored so that the share's job, when a worker gets to it, finds the work done.
      for (const [role, f] of grown) await putBlob(ctx.db, ctx.runId, treesName(role, share), f ? serializeForest(f) : new Uint8Array(0));
      return grown;
    },
  });
  phases.mark('waitShares');
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
  return { modelVersionId: out.modelVersionId, promoted: out.promoted, reason: out.reason, trainingRows: out.trainingRows, scored, shares: of, phasesMs: phases.done() };
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

/** Child: grows its share of every role's trees from the stored rows and stores them (idempotent by name). */
export async function trainTreesShare(ctx: JobContext, p: z.infer<typeof treesPayload>): Promise<{ share: number; trees: number; skipped?: string; phasesMs?: Record<string, number> }> {
  if (p.drill?.failShare === p.share) throw new Error(`planned failure of tree share ${p.share}`);
  const done = await blobNames(ctx.db, p.trainRunId, 'trees:');
  if (p.roles.every((role) => done.includes(treesName(role, p.share)))) return { share: p.share, trees: 0, skipped: 'grown by the coordinator' };
  let trees = 0;
  const phases = phaseClock();
  const blob = await getBlob(ctx.db, p.trainRunId, SETS_BLOB);
  phases.mark('read');
  if (!blob) {
    // The coordinator finished without this job (it grew the share itself) and removed the rows.
    if (await runFinished(ctx.db, p.trainRunId)) return { share: p.share, trees: 0, skipped: 'run already finished' };
    throw new Error(`training rows are gone (run ${p.trainRunId} was cleaned up)`);
  }
  const sets = await unpackRoleSets(blob);
  phases.mark('decode');
  for (const [k, role] of p.roles.entries()) {
    const set = sets.find((x) => x.role === role);
    if (!set) throw new Error(`no ${role} rows in run ${p.trainRunId}'s training rows`);
    const forest = trainShare(set, p.share, p.of, (d, total) => {
      if (ctx.signal.aborted) throw new Error('tree share aborted (worker shutting down)');
      if (p.drill?.treeDelayMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, p.drill.treeDelayMs);
      ctx.progress((k + d / total) / p.roles.length, `${role} tree ${d}/${total}`);
    });
    trees += forest?.nTrees ?? 0;
    phases.mark('grow');
    if (await runFinished(ctx.db, p.trainRunId)) return { share: p.share, trees, skipped: 'run already finished' };
    await putBlob(ctx.db, p.trainRunId, treesName(role, p.share), forest ? serializeForest(forest) : new Uint8Array(0));
    phases.mark('write');
  }
  ctx.progress(1, `${trees} trees`);
  return { share: p.share, trees, phasesMs: phases.done() };
}

async function runFinished(db: PrismaClient, runId: string): Promise<boolean> {
  const run = await db.jobRun.findUnique({ where: { id: runId }, select: { finishedAt: true } });
  return !run || run.finishedAt !== null;
}

async function markFailed(db: PrismaClient, runId: string, error: string): Promise<void> {
  await db.$executeRaw`update model_versions set status = 'failed', error = ${error}, finished_at = now()
    where job_run_id = ${runId}::uuid and kind = ${MODEL_KIND} and status = 'training'`;
}
