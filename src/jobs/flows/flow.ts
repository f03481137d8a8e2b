import crypto from 'node:crypto';
import { FlowProducer } from 'bullmq';
import { parseEnv } from '../../config/env';
import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import type { BullJobData } from '../bullmq.transport';
import { sweepBlobs } from './job-blobs';

/**
 * BullMQ flows started from inside a job (fan-out). A job that starts a flow returns a handoff result: its own
 * run stays 'running' and the flow's parent job, which carries the same run id, finishes it (completed or
 * failed) — so callers waiting on the run see one run from request to promotion. Children get runs of their own
 * (job_runs rows with ids derived from the parent run, so a retried step re-adds the same jobs, never new ones).
 */

export const HANDOFF_KEY = 'handedOffTo';

export interface Handoff {
  [HANDOFF_KEY]: { flow: string; children: number };
  [k: string]: unknown;
}

export function isHandoff(result: unknown): result is Handoff {
  return typeof result === 'object' && result !== null && HANDOFF_KEY in result;
}

/** Flows need BullMQ: the in-process transport (embedded PGlite) runs everything in one job. */
export function flowsAvailable(): boolean {
  return Boolean(process.env.REDIS_URL);
}

/** A stable uuid for the n-th job of a flow owned by runId. */
export function flowRunId(runId: string, part: string): string {
  const h = crypto.createHash('sha256').update(`${runId}/${part}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface FlowJob {
  runId: string;
  name: string;
  payload: unknown;
  attempts: number;
  /** A run that chains flows needs a distinct BullMQ job id per parent (default 'parent'). */
  parentKey?: string;
}

/**
 * Adds parent + children as one BullMQ flow: the parent runs once every child has finished. A child that fails
 * for good does not block it (ignoreDependencyOnFailure): the parent finds the missing output and fails the run.
 */
export async function addFlow(db: PrismaClient, parent: FlowJob, children: readonly FlowJob[]): Promise<void> {
  await sweepBlobs(db).catch(() => 0);
  for (const c of children) {
    await db.jobRun.upsert({
      where: { id: c.runId },
      create: { id: c.runId, name: c.name, payload: c.payload as Prisma.InputJsonValue, maxAttempts: c.attempts },
      update: {},
    });
  }
  // Loaded here: the transport imports the job registry, which imports the handlers that import this file.
  const { QUEUE_NAME, redisConnection, withTimeout } = require('../bullmq.transport') as typeof import('../bullmq.transport');
  const env = parseEnv(process.env);
  if (!env.REDIS_URL) throw new Error('flows need REDIS_URL (BullMQ)');
  const producer = new FlowProducer({ connection: redisConnection(env.REDIS_URL, false), prefix: env.QUEUE_PREFIX });
  producer.on('error', () => {});
  const opts = (j: FlowJob) => ({
    jobId: j.runId === parent.runId ? flowRunId(parent.runId, parent.parentKey ?? 'parent') : j.runId,
    attempts: j.attempts,
    backoff: { type: 'exponential' as const, delay: 1000 },
    removeOnComplete: { count: 1000 },
    removeOnFail: { count: 5000 },
  });
  try {
    await withTimeout(
      producer.add({
        name: parent.name,
        queueName: QUEUE_NAME,
        data: { runId: parent.runId, payload: parent.payload } satisfies BullJobData,
        opts: opts(parent),
        children: children.map((c) => ({
          name: c.name,
          queueName: QUEUE_NAME,
          data: { runId: c.runId, payload: c.payload } satisfies BullJobData,
          opts: { ...opts(c), ignoreDependencyOnFailure: true },
        })),
      }),
      10_000,
    );
  } finally {
    await producer.close();
  }
}

/** Parent run progress in [from, to] from its children's (completed counts as 1). */
export async function rollUpProgress(db: PrismaClient, parentRunId: string, childIds: readonly string[], from: number, to: number, message: string): Promise<void> {
  await db.$executeRaw`
    update job_runs set heartbeat_at = now(), message = ${message}, progress = greatest(progress, ${from}::float8 + ${to - from}::float8 * (
      select coalesce(sum(case when state = 'completed' then 1 else progress end), 0) / ${childIds.length}::float8
      from job_runs where id::text in (select jsonb_array_elements_text(${JSON.stringify(childIds)}::jsonb))))
    where id = ${parentRunId}::uuid and state = 'running'`;
}
