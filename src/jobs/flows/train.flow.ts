import { z } from 'zod';
import type { PrismaClient } from '../../generated/prisma/client';
import { type Forest, deserializeForest, serializeForest } from '../../models/forest';
import { scoreCustomers } from '../../models/scoring/score.service';
import { MODEL_KIND, type TrainRequest, TrainingHandedOff, trainModelVersion } from '../../models/training/train.service';
import {
  type Role,
  type RoleSummary,
  capturingTrainer,
  decodeFits,
  decodeRoleSet,
  encodeFits,
  encodeRoleSet,
  fitCache,
  mergeShares,
  summarize,
  supplyingTrainer,
  trainShare,
} from '../../models/training/train-flow';
import type { JobContext } from '../job.types';
import { type Handoff, HANDOFF_KEY, addFlow, flowRunId, rollUpProgress } from './flow';
import { deleteBlobs, getBlob, putBlob } from './job-blobs';

/**
 * Fan-out training as a BullMQ flow. models.train (prepare) records the training rows once and adds the flow;
 * models.train-trees children grow a share of every forest's trees; models.train-merge (parent, same run as
 * models.train) merges, evaluates and promotes through the single-process code (see train-flow.ts).
 * Progress of the run: prepare 0–0.1, trees 0.1–0.85, merge/score 0.85–1.
 */

/** Fault injection for tests and drills (like failAfterVersionRow): a share that always fails, slow trees. */
export const flowDrill = z.object({
  failShare: z.number().int().min(0).optional(),
  treeDelayMs: z.number().int().min(0).max(60_000).optional(),
});

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

export const mergePayload = z.object({
  horizonDays: z.number().int(),
  cutoff: z.coerce.date(),
  options: z.record(z.string(), z.unknown()),
  shares: z.number().int().min(1),
  roles: z.array(z.object({ role: z.enum(['main', 'calibration']), nTrees: z.number().int(), rows: z.number().int(), fingerprint: z.string() })),
});

export const treesPayload = z.object({
  trainRunId: z.string().uuid(),
  share: z.number().int().min(0),
  of: z.number().int().min(1),
  roles: z.array(z.enum(['main', 'calibration'])),
  drill: flowDrill.optional(),
});

/** A tree share is retried (another worker, after a crash) this many times before the run fails. */
export const TREE_ATTEMPTS = 3;

const setName = (role: Role) => `set:${role}`;
const FITS = 'fits';
const treesName = (role: Role, share: number) => `trees:${role}:${share}`;
const childIds = (runId: string, of: number) => Array.from({ length: of }, (_, i) => flowRunId(runId, `trees:${i}`));

/** Same mapping from job options to a TrainRequest as models.train's single-process path. */
function requestOf(horizonDays: number, cutoff: Date, options: TrainOptions, runId: string): TrainRequest {
  const { force, metric, target, holdoutFraction, score: _score, failAfterVersionRow, ...forest } = options;
  return { horizonDays, cutoff, force, metric, target, holdoutFraction, forest, jobRunId: runId, failAfterVersionRow };
}

export async function startTrainingFlow(
  ctx: JobContext,
  p: { horizonDays: number; cutoff?: Date; options: TrainOptions; drill?: z.infer<typeof flowDrill> },
  shares: number,
): Promise<Handoff> {
  // The cutoff is fixed here: the merge must rebuild exactly the rows the children trained on.
  const cutoff = p.cutoff ?? new Date();
  const cap = capturingTrainer();
  const fits = fitCache(new Map());
  try {
    await trainModelVersion(ctx.db, requestOf(p.horizonDays, cutoff, p.options, ctx.runId), {
      progress: (f, m) => ctx.progress(0.1 * f, m),
      signal: ctx.signal,
      trainForest: cap.trainer,
      fitBaselines: fits.fit,
    });
    throw new Error('training finished without handing its rows over');
  } catch (err) {
    if (!(err instanceof TrainingHandedOff)) throw err;
  }
  await deleteBlobs(ctx.db, ctx.runId);
  for (const set of cap.sets) await putBlob(ctx.db, ctx.runId, setName(set.role), encodeRoleSet(set));
  // The merge rebuilds the rows with these fits instead of fitting BG/NBD again (the costly, serial part).
  await putBlob(ctx.db, ctx.runId, FITS, Buffer.from(encodeFits(fits.cache)));
  const roles = cap.sets.map(summarize);
  const ids = childIds(ctx.runId, shares);
  await addFlow(
    ctx.db,
    { runId: ctx.runId, name: 'models.train-merge', attempts: 1, payload: { horizonDays: p.horizonDays, cutoff: cutoff.toISOString(), options: p.options, shares, roles } },
    ids.map((id, share) => ({
      runId: id,
      name: 'models.train-trees',
      attempts: TREE_ATTEMPTS,
      payload: { trainRunId: ctx.runId, share, of: shares, roles: roles.map((r) => r.role), drill: p.drill } satisfies z.infer<typeof treesPayload>,
    })),
  );
  const version = await ctx.db.modelVersion.findFirst({ where: { jobRunId: ctx.runId, kind: MODEL_KIND }, select: { id: true } });
  ctx.progress(0.1, `growing ${roles.find((r) => r.role === 'main')?.nTrees ?? 0} trees in ${shares} jobs`);
  return { [HANDOFF_KEY]: { flow: 'models.train-merge', children: shares }, modelVersionId: version?.id ?? null, trainingRows: roles.find((r) => r.role === 'main')?.rows ?? 0 };
}

/** Child: grows its share of every role's trees from the recorded rows and stores them (idempotent by name). */
export async function trainTreesShare(ctx: JobContext, p: z.infer<typeof treesPayload>): Promise<{ share: number; trees: number }> {
  if (p.drill?.failShare === p.share) throw new Error(`planned failure of tree share ${p.share}`);
  const ids = childIds(p.trainRunId, p.of);
  let lastRollUp = 0;
  const rollUp = (force = false) => {
    if (!force && Date.now() - lastRollUp < 500) return;
    lastRollUp = Date.now();
    void rollUpProgress(ctx.db, p.trainRunId, ids, 0.1, 0.85, 'growing trees').catch((e) => ctx.log.warn({ err: (e as Error).message }, 'progress roll-up failed'));
  };
  let trees = 0;
  for (const [k, role] of p.roles.entries()) {
    const blob = await getBlob(ctx.db, p.trainRunId, setName(role));
    if (!blob) throw new Error(`training rows for ${role} are gone (run ${p.trainRunId} finished or was cleaned up)`);
    const set = decodeRoleSet(blob);
    const forest = trainShare(set, p.share, p.of, (done, total) => {
      if (ctx.signal.aborted) throw new Error('tree share aborted (worker shutting down)');
      if (p.drill?.treeDelayMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, p.drill.treeDelayMs);
      ctx.progress((k + done / total) / p.roles.length, `${role} tree ${done}/${total}`);
      rollUp();
    });
    trees += forest?.nTrees ?? 0;
    await putBlob(ctx.db, p.trainRunId, treesName(role, p.share), forest ? serializeForest(forest) : new Uint8Array(0));
  }
  ctx.progress(1, `${trees} trees`);
  rollUp(true);
  return { share: p.share, trees };
}

/** Parent: every share present → merged forests through the single-process training, promotion, scoring. */
export async function mergeTraining(ctx: JobContext, p: z.infer<typeof mergePayload>) {
  const forests = new Map<Role, Forest>();
  const missing: number[] = [];
  for (const r of p.roles) {
    const parts: (Forest | null)[] = [];
    for (let share = 0; share < p.shares; share++) {
      const blob = await getBlob(ctx.db, ctx.runId, treesName(r.role, share));
      if (blob === null) missing.push(share);
      else parts.push(blob.length ? deserializeForest(blob) : null);
    }
    if (!missing.length) forests.set(r.role, mergeShares(parts));
  }
  const options = p.options as TrainOptions;
  if (missing.length) {
    await failVersion(ctx.db, ctx.runId, [...new Set(missing)]);
    await deleteBlobs(ctx.db, ctx.runId);
    throw new Error(`tree shares ${[...new Set(missing)].join(', ')} of ${p.shares} failed for good; the champion is unchanged`);
  }
  ctx.progress(0.85, 'merging trees');
  try {
    const stored = await getBlob(ctx.db, ctx.runId, FITS);
    const out = await trainModelVersion(ctx.db, requestOf(p.horizonDays, p.cutoff, options, ctx.runId), {
      progress: (f, m) => ctx.progress(0.85 + 0.1 * f, m),
      signal: ctx.signal,
      trainForest: supplyingTrainer(p.roles as RoleSummary[], forests),
      fitBaselines: fitCache(stored ? decodeFits(stored.toString()) : new Map()).fit,
    });
    let scored = 0;
    if (out.promoted && options.score) {
      const s = await scoreCustomers(ctx.db, { modelVersionId: out.modelVersionId, signal: ctx.signal, onProgress: (f, m) => ctx.progress(0.95 + 0.05 * f, m) });
      scored = s.scored;
    }
    ctx.progress(1, 'done');
    return { modelVersionId: out.modelVersionId, promoted: out.promoted, reason: out.reason, trainingRows: out.trainingRows, scored, shares: p.shares };
  } finally {
    await deleteBlobs(ctx.db, ctx.runId);
  }
}

async function failVersion(db: PrismaClient, runId: string, shares: number[]): Promise<void> {
  const errors = await db.jobRun.findMany({ where: { id: { in: shares.map((s) => flowRunId(runId, `trees:${s}`)) } }, select: { error: true } });
  const why = errors.map((e) => e.error).filter(Boolean).join('; ') || 'tree jobs failed';
  await db.$executeRaw`update model_versions set status = 'failed', error = ${`tree shares ${shares.join(', ')} failed: ${why}`}, finished_at = now()
    where job_run_id = ${runId}::uuid and kind = ${MODEL_KIND} and status = 'training'`;
}

