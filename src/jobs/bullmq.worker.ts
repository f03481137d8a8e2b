import os from 'node:os';
import path from 'node:path';
import { type Job, Queue, Worker } from 'bullmq';
import type { Db } from '../db/client';
import type { Logger } from '../lib/logger';
import { type BullJobData, QUEUE_NAME, bullJobOptions, redisConnection } from './bullmq.transport';
import * as runs from './job-runs';
import { isHandoff } from './flows/flow';
import { preloadNativeAddons } from './runtime/native-preload';

export interface BullWorkerOptions {
  db: Db;
  log: Logger;
  redisUrl: string;
  prefix: string;
  concurrency: number;
  lockMs: number;
}

const PROCESSOR = path.join(__dirname, 'runtime', 'bullmq.processor.cjs');

/**
 * A worker process's consumer. Handlers run in sandboxed worker threads so CPU-heavy work never blocks the
 * lock renewal on this thread (inline, a long job's lock expires and it runs twice). This thread records
 * state transitions in job_runs and re-offers runs that never reached Redis.
 */
export async function startBullWorker(o: BullWorkerOptions): Promise<{ close(): Promise<void> }> {
  preloadNativeAddons();
  const prisma = o.db.prisma;
  const workerId = `${os.hostname()}:${process.pid}`;
  const worker = new Worker<BullJobData>(QUEUE_NAME, PROCESSOR, {
    connection: redisConnection(o.redisUrl, true),
    prefix: o.prefix,
    concurrency: o.concurrency,
    useWorkerThreads: true,
    lockDuration: o.lockMs,
    stalledInterval: Math.max(1000, Math.floor(o.lockMs / 2)),
    maxStalledCount: 1,
  });
  const record = (what: string, p: Promise<unknown>) =>
    p.catch((err) => o.log.error({ err: (err as Error).message, what }, 'could not record job state'));

  worker.on('active', (job: Job<BullJobData>) => void record('active', runs.markRunning(prisma, job.data.runId, workerId, Math.max(job.attemptsStarted, job.attemptsMade + 1))));
  worker.on('progress', (job: Job<BullJobData>, p) => {
    const { progress, message } = typeof p === 'object' && p ? (p as { progress: number; message?: string }) : { progress: Number(p), message: undefined };
    void record('progress', runs.reportProgress(prisma, job.data.runId, progress, message));
  });
  // A job that handed its run to a flow (src/jobs/flows) leaves it running: the flow's parent job finishes it.
  worker.on('completed', (job: Job<BullJobData>, result) =>
    void record('completed', isHandoff(result) ? runs.reportProgress(prisma, job.data.runId, 0.1) : runs.markCompleted(prisma, job.data.runId, result)),
  );
  worker.on('failed', (job: Job<BullJobData> | undefined, err) => {
    if (!job) return;
    const retrying = job.attemptsMade < (job.opts.attempts ?? 1) && !/stalled more than/.test(err.message);
    void record('failed', runs.markFailed(prisma, job.data.runId, err.message, retrying, Math.max(job.attemptsStarted, job.attemptsMade)));
  });
  worker.on('error', (err) => o.log.warn({ err: err.message }, 'bullmq worker error'));

  // Runs written to the database while Redis was unreachable (or lost by a Redis without persistence) are
  // handed to BullMQ here; the fixed jobId makes a re-add of a job BullMQ still has a no-op.
  const queue = new Queue(QUEUE_NAME, { connection: redisConnection(o.redisUrl, true), prefix: o.prefix });
  const reconcile = async () => {
    const stale = await prisma.jobRun.findMany({
      where: { state: 'queued', createdAt: { lt: new Date(Date.now() - 5000) } },
      take: 500,
      orderBy: { createdAt: 'asc' },
    });
    for (const run of stale) {
      const existing = await queue.getJob(run.id);
      if (!existing) await queue.add(run.name, { runId: run.id, payload: run.payload }, bullJobOptions(run));
    }
  };
  const timer = setInterval(() => void reconcile().catch((e) => o.log.warn({ err: e.message }, 'reconcile failed')), Math.max(2000, o.lockMs)).unref();
  void reconcile().catch(() => {});
  o.log.info({ concurrency: o.concurrency, workerId }, 'bullmq worker started');

  return {
    async close() {
      clearInterval(timer);
      // Waits for active jobs to finish; a SIGKILL instead leaves them to BullMQ's stalled-job check.
      await worker.close();
      await queue.close();
    },
  };
}
