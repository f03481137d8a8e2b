import { parseEnv } from '../../config/env';
import type { Prisma, PrismaClient } from '../../generated/prisma/client';
import { type Forest, deserializeForest } from '../../models/forest';
import { type Role, mergeShares } from '../../models/training/train-flow';
import type { BullJobData } from '../bullmq.transport';
import type { JobContext } from '../job.types';
import { flowRunId } from './flow';
import { blobNames, getBlob } from './job-blobs';

/**
 * The tree shares of a fan-out training (train.flow.ts): queued as plain jobs, collected by the coordinating
 * models.train job, which grows any share no worker has started yet itself (work stealing). A share whose job
 * failed once is left to BullMQ's retries (on any worker): the run fails only when a share fails for good.
 */

/** Every role's training rows (packRoleSets), written by the coordinator, read by each share job. */
export const SETS_BLOB = 'sets';
export const treesName = (role: Role, share: number) => `trees:${role}:${share}`;
/** Job run ids of shares 1..of−1 (share 0 is the coordinator's), index = share. */
export const treeJobIds = (runId: string, of: number) => Array.from({ length: of }, (_, i) => flowRunId(runId, `trees:${i}`));

/** A tree share is retried (another worker, after a crash) this many times before the run fails. */
export const TREE_ATTEMPTS = 3;

/** A share still queued after this long (its worker died between attempts, no other free) is stolen even if tried. */
const STEAL_TRIED_AFTER_MS = 60_000;
const POLL_MS = 200;

export async function addTreeJobs(db: PrismaClient, runId: string, of: number, roles: Role[], drill: unknown): Promise<void> {
  const ids = treeJobIds(runId, of);
  await queueJobs(
    db,
    ids.slice(1).map((id, i) => ({ id, name: 'models.train-trees', attempts: TREE_ATTEMPTS, payload: { trainRunId: runId, share: i + 1, of, roles, drill } as Prisma.InputJsonValue })),
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

/**
 * Waits for shares 1..of−1 (share 0 is `own`), growing with `grow` each one whose job no worker has started, and
 * returns every role's forest with the shares in order. Throws when a share's job failed for good.
 */
export async function collectShares(
  ctx: JobContext,
  o: { of: number; roles: Role[]; own: Map<Role, Forest | null>; grow: (share: number) => Promise<Map<Role, Forest | null>> },
): Promise<Map<Role, Forest>> {
  const parts: (Map<Role, Forest | null> | undefined)[] = [o.own];
  const ids = treeJobIds(ctx.runId, o.of);
  const pending = () => Array.from({ length: o.of }, (_, s) => s).filter((s) => !parts[s]);
  for (;;) {
    if (ctx.signal.aborted) throw new Error('training aborted (worker shutting down)');
    const open = pending();
    if (!open.length) break;
    // Runs first, then blobs: a share job stores its trees before its run is marked completed.
    const runs = new Map(
      (await ctx.db.jobRun.findMany({ where: { id: { in: open.map((s) => ids[s]!) } }, select: { id: true, state: true, attempts: true, error: true, heartbeatAt: true } })).map((r) => [r.id, r]),
    );
    const names = await blobNames(ctx.db, ctx.runId, 'trees:');
    const failed: number[] = [];
    let idle: number | undefined;
    for (const s of open) {
      const run = runs.get(ids[s]!);
      if (o.roles.every((r) => names.includes(treesName(r, s)))) {
        parts[s] = await readShare(ctx.db, ctx.runId, o.roles, s);
      } else if (!run || run.state === 'failed' || run.state === 'cancelled') {
        failed.push(s);
      } else if (run.state === 'completed') {
        throw new Error(`tree share ${s} completed without its trees (run ${ctx.runId} cleaned up meanwhile?)`);
      } else if (run.state === 'queued' && idle === undefined && (run.attempts === 0 || Date.now() - (run.heartbeatAt?.getTime() ?? 0) > STEAL_TRIED_AFTER_MS)) {
        idle = s;
      }
    }
    if (failed.length) {
      const why = failed.map((s) => runs.get(ids[s]!)?.error).filter(Boolean).join('; ') || 'tree jobs missing';
      throw new Error(`tree shares ${failed.join(', ')} of ${o.of} failed for good: ${why}; the champion is unchanged`);
    }
    if (idle !== undefined) parts[idle] = await o.grow(idle);
    else if (pending().length) await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return new Map(o.roles.map((role) => [role, mergeShares(parts.map((p) => p!.get(role) ?? null))]));
}

async function readShare(db: PrismaClient, runId: string, roles: Role[], share: number): Promise<Map<Role, Forest | null>> {
  const out = new Map<Role, Forest | null>();
  for (const role of roles) {
    const blob = await getBlob(db, runId, treesName(role, share));
    if (blob === null) throw new Error(`trees of share ${share} (${role}) vanished`);
    out.set(role, blob.length ? deserializeForest(blob) : null);
  }
  return out;
}
