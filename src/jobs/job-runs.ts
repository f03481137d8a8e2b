import type { JobRun, PrismaClient } from '../generated/prisma/client';
import { Prisma } from '../generated/prisma/client';
import { notFound } from '../lib/errors';

/** The durable record of every job, whichever transport runs it: the API reads state and progress here. */

export interface CreateRunInput {
  name: string;
  payload: unknown;
  /** An active (queued or running) run with the same key is returned instead of a new one. */
  dedupeKey?: string;
  maxAttempts: number;
}

export async function createRun(prisma: PrismaClient, input: CreateRunInput): Promise<{ run: JobRun; created: boolean }> {
  const data = {
    name: input.name,
    payload: input.payload as Prisma.InputJsonValue,
    dedupeKey: input.dedupeKey ?? null,
    maxAttempts: input.maxAttempts,
  };
  const dedupeKey = input.dedupeKey;
  if (!dedupeKey) return { run: await prisma.jobRun.create({ data }), created: true };
  // Two concurrent enqueues with one key must yield one run: a transaction-scoped advisory lock on the key
  // serialises the check-then-insert on both PostgreSQL and PGlite.
  return prisma.$transaction(async (tx) => {
    await tx.$executeRaw`select pg_advisory_xact_lock(hashtextextended(${dedupeKey}, 7))`;
    const existing = await tx.jobRun.findFirst({
      where: { dedupeKey, state: { in: ['queued', 'running'] } },
      orderBy: { createdAt: 'asc' },
    });
    if (existing) return { run: existing, created: false };
    return { run: await tx.jobRun.create({ data }), created: true };
  });
}

/** Claims the oldest queued run for this worker (in-process transport); SKIP LOCKED lets many claim at once. */
export async function claimNext(prisma: PrismaClient, workerId: string): Promise<JobRun | null> {
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    update job_runs set state = 'running', attempts = attempts + 1, worker_id = ${workerId},
      started_at = now(), heartbeat_at = now(), error = null
    where id = (
      select id from job_runs where state = 'queued' order by created_at for update skip locked limit 1
    )
    returning id::text as id`;
  const id = rows[0]?.id;
  return id ? prisma.jobRun.findUnique({ where: { id } }) : null;
}

/** BullMQ transport: the queue decided who runs it; record that it started (again). */
export async function markRunning(prisma: PrismaClient, id: string, workerId: string, attempt: number): Promise<void> {
  await prisma.jobRun.updateMany({
    where: { id, state: { in: ['queued', 'running'] } },
    data: { state: 'running', workerId, attempts: attempt, startedAt: new Date(), heartbeatAt: new Date(), error: null },
  });
}

export async function reportProgress(prisma: PrismaClient, id: string, progress: number, message?: string): Promise<void> {
  await prisma.jobRun.updateMany({
    where: { id, state: 'running' },
    data: { progress: clamp01(progress), heartbeatAt: new Date(), ...(message !== undefined ? { message } : {}) },
  });
}

export async function heartbeat(prisma: PrismaClient, ids: string[]): Promise<void> {
  if (ids.length) await prisma.jobRun.updateMany({ where: { id: { in: ids }, state: 'running' }, data: { heartbeatAt: new Date() } });
}

export async function markCompleted(prisma: PrismaClient, id: string, result: unknown): Promise<void> {
  await prisma.jobRun.update({
    where: { id },
    data: {
      state: 'completed',
      progress: 1,
      result: (result ?? null) === null ? Prisma.JsonNull : (result as Prisma.InputJsonValue),
      error: null,
      finishedAt: new Date(),
    },
  });
}

/** A failed attempt: back to queued while attempts remain (the transport retries), else failed for good. */
/**
 * `attempt`: the attempt that failed. BullMQ's 'active' and 'failed' events are recorded without waiting for each
 * other, so an attempt that fails at once can be marked failed before markRunning counted it (which then skips
 * the finished run): the final failure records the count itself.
 */
export async function markFailed(prisma: PrismaClient, id: string, error: string, retrying: boolean, attempt?: number): Promise<void> {
  await prisma.jobRun.update({
    where: { id },
    data: retrying
      ? { state: 'queued', error, workerId: null }
      : { state: 'failed', error, finishedAt: new Date(), ...(attempt !== undefined ? { attempts: attempt } : {}) },
  });
}

/** Shutdown: hand a run back without counting the interrupted attempt against it. */
export async function release(prisma: PrismaClient, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await prisma.$executeRaw`
    update job_runs set state = 'queued', worker_id = null, attempts = greatest(attempts - 1, 0),
      message = 'released by shutdown'
    where id::text in (${Prisma.join(ids)}) and state = 'running'`;
}

/**
 * Runs whose worker stopped sending heartbeats (killed, machine lost) are retried if attempts remain, else
 * failed with a reason. Returns how many of each.
 */
export async function recoverLost(prisma: PrismaClient, staleBefore: Date): Promise<{ requeued: number; failed: number }> {
  const requeued = await prisma.$executeRaw`
    update job_runs set state = 'queued', worker_id = null, message = 'worker lost; retrying'
    where state = 'running' and coalesce(heartbeat_at, started_at, created_at) < ${staleBefore}
      and attempts < max_attempts`;
  const failed = await prisma.$executeRaw`
    update job_runs set state = 'failed', finished_at = now(),
      error = coalesce(error || '; ', '') || 'worker lost on the last attempt'
    where state = 'running' and coalesce(heartbeat_at, started_at, created_at) < ${staleBefore}
      and attempts >= max_attempts`;
  return { requeued, failed };
}

export async function getRun(prisma: PrismaClient, id: string): Promise<JobRun> {
  const run = /^[0-9a-f-]{36}$/i.test(id) ? await prisma.jobRun.findUnique({ where: { id } }) : null;
  if (!run) throw notFound(`job run ${id}`);
  return run;
}

export function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}
