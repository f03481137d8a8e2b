import { parseEnv } from '../../config/env';
import type { Prisma, PrismaClient } from '../../generated/prisma/client';
import { type Forest, deserializeForest, serializeForest } from '../../models/forest';
import { type Chunk, type Role, type RoleSet, growChunk, mergeShares } from '../../models/training/train-flow';
import type { BullJobData } from '../bullmq.transport';
import type { JobContext } from '../job.types';
import { flowRunId } from './flow';
import { SILENT_MS, claim, claimerStates, claimsOf, lastSign } from './flow-claims';
import { blobNames, getBlob, putBlob } from './job-blobs';

/**
 * The tree jobs of a fan-out training (train.flow.ts), queued when the run starts. Each participant (the
 * coordinating models.train job and every models.train-trees job) builds the training rows itself, then claims
 * chunks of trees (chunkPlan) one at a time until none is left: a worker that starts late, or is slower, simply
 * grows fewer. The coordinator then waits for the chunks others are growing, redoes those of a claimer that died,
 * and fails the run when a tree job failed for good (BullMQ retries it on any worker first).
 */

export const treeJobIds = (runId: string, of: number) => Array.from({ length: of }, (_, i) => flowRunId(runId, `trees:${i}`));
const chunkKey = (c: Chunk) => `${c.role}:${c.index}`;
const chunkClaim = (rows: string, c: Chunk) => `claim:${rows}:${chunkKey(c)}`;
const chunkTrees = (rows: string, c: Chunk) => `trees:${rows}:${chunkKey(c)}`;
/** The coordinator's rows id: a tree job whose rows differ (data written before the cutoff meanwhile) stops. */
export const ROWS_MARK = 'rows';

/** A tree job is retried (another worker, after a crash) this many times before the run fails. */
export const TREE_ATTEMPTS = 3;
const POLL_MS = 200;

export async function addTreeJobs(db: PrismaClient, runId: string, of: number, payload: Record<string, unknown>): Promise<void> {
  await queueJobs(
    db,
    treeJobIds(runId, of)
      .slice(1)
      .map((id, i) => ({ id, name: 'models.train-trees', attempts: TREE_ATTEMPTS, payload: { ...payload, trainRunId: runId, share: i + 1, of } as Prisma.InputJsonValue })),
  );
}

/** Plain jobs with fixed ids (a retried coordinator re-adds the same ones: a no-op) and their job_runs rows. */
export async function queueJobs(db: PrismaClient, jobs: { id: string; name: string; attempts: number; payload: Prisma.InputJsonValue }[]): Promise<void> {
  const { withTimeout } = require('../bullmq.transport') as typeof import('../bullmq.transport');
  for (const j of jobs) {
    await db.jobRun.upsert({ where: { id: j.id }, create: { id: j.id, name: j.name, payload: j.payload, maxAttempts: j.attempts }, update: {} });
  }
  const queue = await bullQueue();
  try {
    await withTimeout(
      queue.addBulk(
        jobs.map((j) => ({
          name: j.name,
          data: { runId: j.id, payload: j.payload } satisfies BullJobData,
          opts: { jobId: j.id, attempts: j.attempts, backoff: { type: 'exponential' as const, delay: 1000 }, removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } },
        })),
      ),
      10_000,
    );
  } finally {
    await queue.close();
  }
}

async function bullQueue() {
  // Loaded here: the transport imports the job registry, which imports the handlers that import this file.
  const { QUEUE_NAME, redisConnection } = require('../bullmq.transport') as typeof import('../bullmq.transport');
  const { Queue } = require('bullmq') as typeof import('bullmq');
  const env = parseEnv(process.env);
  if (!env.REDIS_URL) throw new Error('fan-out training needs REDIS_URL (BullMQ)');
  const queue = new Queue(QUEUE_NAME, { connection: redisConnection(env.REDIS_URL, false), prefix: env.QUEUE_PREFIX });
  queue.on('error', () => {});
  return queue;
}

/** The tree jobs' runs; throws when one failed for good: like any fan-out child that fails for good, it fails the run. */
export async function treeJobRuns(db: PrismaClient, jobIds: readonly string[]) {
  const runs = await db.jobRun.findMany({ where: { id: { in: [...jobIds] } }, select: { id: true, state: true, attempts: true, error: true, heartbeatAt: true, startedAt: true, createdAt: true } });
  const failed = runs.filter((r) => r.state === 'failed' || r.state === 'cancelled');
  if (failed.length) {
    const shares = failed.map((r) => jobIds.indexOf(r.id) + 1).sort((a, b) => a - b);
    throw new Error(`tree shares ${shares.join(', ')} of ${jobIds.length + 1} failed for good: ${failed.map((r) => r.error).filter(Boolean).join('; ') || 'no error recorded'}; the champion is unchanged`);
  }
  return runs;
}

export interface ChunkWork {
  flowRun: string;
  rows: string;
  plan: readonly Chunk[];
  sets: readonly RoleSet[];
  onTree: (chunk: Chunk, done: number) => void;
  /** Tree jobs store each chunk as they grow it; the coordinator keeps its own in memory. */
  store: boolean;
  /** Asked before each claim: a tree job stops once the run has finished (its trees would be orphans). */
  stop?: () => Promise<boolean>;
}

function grow(w: ChunkWork, c: Chunk): Forest {
  const set = w.sets.find((s) => s.role === c.role);
  if (!set) throw new Error(`no ${c.role} training rows`);
  return growChunk(set, c, (d) => w.onTree(c, d));
}

/** Claims and grows chunks until none is left unclaimed (first any this run claimed in an earlier attempt). */
export async function growChunks(ctx: JobContext, w: ChunkWork): Promise<Map<string, Forest>> {
  const grown = new Map<string, Forest>();
  const claims = await claimsOf(ctx.db, w.flowRun, `claim:${w.rows}:`);
  const stored = new Set(await blobNames(ctx.db, w.flowRun, `trees:${w.rows}:`));
  const redo = w.plan.filter((c) => claims.get(chunkClaim(w.rows, c)) === ctx.runId && !stored.has(chunkTrees(w.rows, c)));
  for (;;) {
    let c = redo.shift();
    if (!c) {
      if (await w.stop?.()) break;
      const taken = await claimsOf(ctx.db, w.flowRun, `claim:${w.rows}:`);
      const next = w.plan.find((x) => !taken.has(chunkClaim(w.rows, x)));
      if (!next) break;
      if ((await claim(ctx.db, w.flowRun, chunkClaim(w.rows, next), ctx.runId)) !== ctx.runId) continue;
      c = next;
    }
    const forest = grow(w, c);
    if (w.store) await putBlob(ctx.db, w.flowRun, chunkTrees(w.rows, c), serializeForest(forest));
    grown.set(chunkKey(c), forest);
  }
  return grown;
}

/**
 * The coordinator's end of the trees: waits for the chunks others claimed, grows those whose claimer is gone,
 * waits for a tree job that failed once to succeed or fail for good (the run fails then), and returns every
 * role's forest with the chunks in tree order.
 */
export async function collectChunks(ctx: JobContext, w: ChunkWork, own: Map<string, Forest>, jobIds: readonly string[]): Promise<Map<Role, Forest>> {
  const have = new Map(own);
  for (;;) {
    if (ctx.signal.aborted) throw new Error('training aborted (worker shutting down)');
    const runs = await treeJobRuns(ctx.db, jobIds);
    // Failed at least once and retrying: it may fail for good, which must fail the run (unless it went silent).
    const retrying = runs.filter((r) => ((r.state === 'queued' && r.attempts > 0) || (r.state === 'running' && r.attempts > 1)) && Date.now() - lastSign(r) < SILENT_MS);
    const stored = new Set(await blobNames(ctx.db, w.flowRun, `trees:${w.rows}:`));
    const missing = w.plan.filter((c) => !have.has(chunkKey(c)) && !stored.has(chunkTrees(w.rows, c)));
    if (!missing.length && !retrying.length) break;
    const claims = await claimsOf(ctx.db, w.flowRun, `claim:${w.rows}:`);
    const owners = missing.map((c) => claims.get(chunkClaim(w.rows, c)) ?? ctx.runId);
    const states = await claimerStates(ctx.db, owners.filter((o) => o !== ctx.runId));
    const orphan = missing.find((_, i) => owners[i] === ctx.runId || states.get(owners[i]!) !== 'working');
    // Stored meanwhile (its claimer finished between the reads above)? Then it is read below, not grown twice.
    if (orphan && !(await blobNames(ctx.db, w.flowRun, chunkTrees(w.rows, orphan))).includes(chunkTrees(w.rows, orphan))) have.set(chunkKey(orphan), grow(w, orphan));
    else if (orphan) continue;
    else await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const byRole = new Map<Role, Forest>();
  for (const role of new Set(w.plan.map((c) => c.role))) {
    const parts: Forest[] = [];
    for (const c of w.plan.filter((x) => x.role === role).sort((a, b) => a.index - b.index)) {
      let f = have.get(chunkKey(c));
      if (!f) {
        const blob = await getBlob(ctx.db, w.flowRun, chunkTrees(w.rows, c));
        if (!blob) throw new Error(`trees ${chunkKey(c)} of run ${w.flowRun} vanished`);
        f = deserializeForest(blob);
      }
      parts.push(f);
    }
    byRole.set(role, mergeShares(parts));
  }
  return byRole;
}
