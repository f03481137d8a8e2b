import { z } from 'zod';
import type { PrismaClient } from '../../generated/prisma/client';
import { historyBatches } from '../../features/feature-store.service';
import type { History } from '../../models/clv/clv-baselines';
import { type Forest, deserializeForest, serializeForest } from '../../models/forest';
import { scoreCustomers } from '../../models/scoring/score.service';
import { MODEL_KIND, type TrainRequest, TrainingHandedOff, loadAllHistories, trainModelVersion } from '../../models/training/train.service';
import {
  type Role,
  type RoleSummary,
  capturingTrainer,
  decodeFits,
  decodeHistories,
  decodeRoleSet,
  encodeFits,
  encodeHistories,
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
 * Fan-out training as two chained BullMQ flows, every parent carrying the models.train run:
 *   models.train splits the customers into id ranges and adds flow 1: models.train-load children load one
 *     range's histories each (the costly reads, in parallel) and store them;
 *   models.train-rows (flow 1's parent) runs the single-process training on those histories up to the point
 *     where it would grow the forests, records the rows and the baseline fits, and adds flow 2:
 *   models.train-trees children grow a share of every forest's trees; models.train-merge (flow 2's parent)
 *     replays the single-process training on the same histories with the recorded fits and the grown trees,
 *     evaluates and promotes (see train-flow.ts).
 * Progress of the run: loading 0–0.05, rows 0.05–0.1, trees 0.1–0.85, merge/score 0.85–1.
 */

/** Fault injection for tests and drills (like failAfterVersionRow): a share that always fails, slow trees. */
export const flowDrill = z.object({
  failShare: z.number().int().min(0).optional(),
  /** A history range (first flow) that always fails. */
  failRange: z.number().int().min(0).optional(),
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
  ranges: z.number().int().min(1),
  roles: z.array(z.object({ role: z.enum(['main', 'calibration']), nTrees: z.number().int(), rows: z.number().int(), fingerprint: z.string() })),
});

export const loadPayload = z.object({
  trainRunId: z.string().uuid(),
  range: z.number().int().min(0),
  of: z.number().int().min(1),
  /** Customer ids in (after, upTo]; null = unbounded. */
  after: z.number().int().nullable(),
  upTo: z.number().int().nullable(),
  cutoff: z.coerce.date(),
  failRange: z.boolean().optional(),
});

export const rowsPayload = z.object({
  horizonDays: z.number().int(),
  cutoff: z.coerce.date(),
  options: z.record(z.string(), z.unknown()),
  shares: z.number().int().min(1),
  ranges: z.number().int().min(1),
  drill: flowDrill.optional(),
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
const histName = (range: number) => `hist:${range}`;
const loadIds = (runId: string, of: number) => Array.from({ length: of }, (_, i) => flowRunId(runId, `load:${i}`));
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
  // The cutoff is fixed here: every job of the run must read the same histories.
  const cutoff = p.cutoff ?? new Date();
  // No clean-up of earlier blobs here: if this job runs again while its flow is in flight (a lapsed lock), the
  // re-added flow is a no-op (same job ids) and deleting would pull the histories from under it. Every blob has
  // a fixed name and is replaced by whoever writes it again; the merge and sweepBlobs remove them.
  // Equal customer counts per range (ntile over the ids); the last range is open so later customers land in it.
  const tops = (await ctx.db.$queryRaw<{ hi: number }[]>`
    select max(id)::int as hi from (select id, ntile(${shares}::int) over (order by id) as t from customers) s group by t order by hi`).map((r) => r.hi);
  const ranges = (tops.length ? tops : [0]).map((hi, i, all) => ({ after: i === 0 ? null : all[i - 1]!, upTo: i === all.length - 1 ? null : hi }));
  const ids = loadIds(ctx.runId, ranges.length);
  await addFlow(
    ctx.db,
    {
      runId: ctx.runId,
      name: 'models.train-rows',
      attempts: 1,
      parentKey: 'rows',
      payload: { horizonDays: p.horizonDays, cutoff: cutoff.toISOString(), options: p.options, shares, ranges: ranges.length, drill: p.drill },
    },
    ranges.map((r, range) => ({
      runId: ids[range]!,
      name: 'models.train-load',
      attempts: TREE_ATTEMPTS,
      payload: { trainRunId: ctx.runId, range, of: ranges.length, after: r.after, upTo: r.upTo, cutoff: cutoff.toISOString(), failRange: p.drill?.failRange === range || undefined },
    })),
  );
  ctx.progress(0.01, `loading histories in ${ranges.length} jobs`);
  return { [HANDOFF_KEY]: { flow: 'models.train-rows', children: ranges.length } };
}

/** Child of flow 1: the histories of one customer-id range before the cutoff, stored for the rows step and merge. */
export async function loadHistoryRange(ctx: JobContext, p: z.infer<typeof loadPayload>): Promise<{ range: number; customers: number }> {
  if (p.failRange) throw new Error(`planned failure of history range ${p.range}`);
  const ids = (await ctx.db.$queryRaw<{ id: number }[]>`
    select id from customers where (${p.after}::int is null or id > ${p.after}::int) and (${p.upTo}::int is null or id <= ${p.upTo}::int) order by id`).map((r) => r.id);
  const histories: History[] = [];
  for await (const b of historyBatches(ctx.db, { before: p.cutoff, customerIds: ids, batchSize: 5000 })) {
    if (ctx.signal.aborted) throw new Error('history load aborted (worker shutting down)');
    histories.push(...b.histories);
    ctx.progress(histories.length / Math.max(1, ids.length), `${histories.length}/${ids.length} customers`);
  }
  await putBlob(ctx.db, p.trainRunId, histName(p.range), encodeHistories(histories));
  await rollUpProgress(ctx.db, p.trainRunId, loadIds(p.trainRunId, p.of), 0, 0.05, 'loading histories').catch(() => undefined);
  return { range: p.range, customers: histories.length };
}

/** Every range's histories in id order (= loadAllHistories), or the ranges whose child failed for good. */
async function readHistories(db: PrismaClient, runId: string, ranges: number): Promise<History[] | { missing: number[] }> {
  const out: History[] = [];
  const missing: number[] = [];
  for (let r = 0; r < ranges; r++) {
    const blob = await getBlob(db, runId, histName(r));
    if (blob === null) missing.push(r);
    else if (!missing.length) for (const h of decodeHistories(blob)) out.push(h);
  }
  return missing.length ? { missing } : out;
}

/**
 * Parent of flow 1: the single-process training on the loaded histories, stopped where it would grow the
 * forests (TrainingHandedOff); records the rows and fits, then adds flow 2 (tree shares + merge).
 */
export async function buildTrainingRows(ctx: JobContext, p: z.infer<typeof rowsPayload>): Promise<Handoff> {
  const histories = await readHistories(ctx.db, ctx.runId, p.ranges);
  if (!Array.isArray(histories)) {
    await deleteBlobs(ctx.db, ctx.runId);
    throw new Error(`history ranges ${histories.missing.join(', ')} of ${p.ranges} failed for good; the champion is unchanged`);
  }
  const options = p.options as TrainOptions;
  const cap = capturingTrainer();
  const fits = fitCache(new Map());
  try {
    await trainModelVersion(ctx.db, requestOf(p.horizonDays, p.cutoff, options, ctx.runId), {
      progress: (f, m) => ctx.progress(0.05 + 0.05 * f, m),
      signal: ctx.signal,
      trainForest: cap.trainer,
      fitBaselines: fits.fit,
      histories,
    });
    throw new Error('training finished without handing its rows over');
  } catch (err) {
    // No blob clean-up here: a run whose lock lapsed may be running this step again elsewhere (sweepBlobs later).
    if (!(err instanceof TrainingHandedOff)) throw err;
  }
  for (const set of cap.sets) await putBlob(ctx.db, ctx.runId, setName(set.role), encodeRoleSet(set));
  // The merge rebuilds the rows with these fits instead of fitting BG/NBD again.
  await putBlob(ctx.db, ctx.runId, FITS, Buffer.from(encodeFits(fits.cache)));
  const roles = cap.sets.map(summarize);
  const shares = p.shares;
  const ids = childIds(ctx.runId, shares);
  await addFlow(
    ctx.db,
    { runId: ctx.runId, name: 'models.train-merge', attempts: 1, payload: { horizonDays: p.horizonDays, cutoff: p.cutoff.toISOString(), options: p.options, shares, ranges: p.ranges, roles } },
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
    const loaded = await readHistories(ctx.db, ctx.runId, p.ranges);
    // Gone (cleaned up by a stray retry): read them again; the row fingerprints below catch any difference.
    const histories = Array.isArray(loaded) ? loaded : await loadAllHistories(ctx.db, p.cutoff);
    const out = await trainModelVersion(ctx.db, requestOf(p.horizonDays, p.cutoff, options, ctx.runId), {
      histories,
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
  await markFailed(db, runId, `tree shares ${shares.join(', ')} failed: ${why}`);
}

async function markFailed(db: PrismaClient, runId: string, error: string): Promise<void> {
  await db.$executeRaw`update model_versions set status = 'failed', error = ${error}, finished_at = now()
    where job_run_id = ${runId}::uuid and kind = ${MODEL_KIND} and status = 'training'`;
}

