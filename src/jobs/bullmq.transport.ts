import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import type { Db } from '../db/client';
import type { JobRun } from '../generated/prisma/client';
import type { Logger } from '../lib/logger';
import * as runs from './job-runs';
import type { EnqueueOptions, JobQueue } from './queue.types';
import { getJob, parsePayload } from './registry';

export const QUEUE_NAME = 'jobs';

export interface BullJobData {
  runId: string;
  payload: unknown;
}

export function redisConnection(url: string, forWorker: boolean) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username || undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    // Workers must wait out Redis outages (BullMQ requires null); the API fails fast instead of hanging a request.
    maxRetriesPerRequest: forWorker ? null : 1,
    enableOfflineQueue: forWorker,
    retryStrategy: (times: number) => Math.min(times * 200, 5000),
  };
}

export function bullJobOptions(run: JobRun) {
  return {
    jobId: run.id,
    attempts: run.maxAttempts,
    backoff: { type: 'exponential' as const, delay: 1000 },
    removeOnComplete: { count: 1000 },
    removeOnFail: { count: 5000 },
  };
}

/**
 * API side of the Redis transport. The run is first written to PostgreSQL, then handed to BullMQ; if Redis is
 * down the run stays durably queued in job_runs and the workers' reconciler hands it over once Redis is back.
 */
export class BullQueue implements JobQueue {
  readonly kind = 'bullmq' as const;
  private readonly queue: Queue;
  /** Separate tiny client for readiness: BullMQ 6 keeps its own connection behind the backend. */
  private readonly probe: IORedis;

  constructor(
    private readonly o: { db: Db; log: Logger; redisUrl: string; prefix: string; defaultMaxAttempts: number },
  ) {
    this.queue = new Queue(QUEUE_NAME, { connection: redisConnection(o.redisUrl, false), prefix: o.prefix });
    this.queue.on('error', (err) => o.log.warn({ err: err.message }, 'redis queue error'));
    this.probe = new IORedis(redisConnection(o.redisUrl, false));
    this.probe.on('error', () => {});
  }

  async enqueue(name: string, payload: unknown, opts: EnqueueOptions = {}): Promise<JobRun> {
    const parsed = parsePayload(name, payload);
    const { run, created } = await runs.createRun(this.o.db.prisma, {
      name,
      payload: parsed,
      dedupeKey: opts.dedupeKey,
      maxAttempts: opts.maxAttempts ?? getJob(name).maxAttempts ?? this.o.defaultMaxAttempts,
    });
    if (created) {
      try {
        await withTimeout(this.queue.add(name, { runId: run.id, payload: parsed } satisfies BullJobData, bullJobOptions(run)), 3000);
      } catch (err) {
        this.o.log.warn({ runId: run.id, err: (err as Error).message }, 'redis unavailable: run kept queued in the database');
        return runs.getRun(this.o.db.prisma, run.id).then((r) => ({ ...r, message: 'waiting for the queue (redis unavailable)' }));
      }
    }
    return run;
  }

  async ping(): Promise<void> {
    await withTimeout(this.probe.ping(), 2000);
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.probe.disconnect();
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}
