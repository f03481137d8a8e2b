import os from 'node:os';
import type { Db } from '../db/client';
import type { JobRun } from '../generated/prisma/client';
import type { Logger } from '../lib/logger';
import * as runs from './job-runs';
import type { EnqueueOptions, JobQueue } from './queue.types';
import { getJob, parsePayload } from './registry';
import { ThreadPool } from './runtime/thread-pool';

export interface InProcessOptions {
  db: Db;
  log: Logger;
  logLevel: string;
  databaseUrl?: string;
  concurrency: number;
  defaultMaxAttempts: number;
  lockMs: number;
  shutdownTimeoutMs: number;
  pollMs?: number;
}

/**
 * Jobs without Redis: queued runs live in the job_runs table, a dispatcher in the API process claims them
 * (SKIP LOCKED, so several API processes on one PostgreSQL share the work) and runs them in worker threads.
 */
export class InProcessQueue implements JobQueue {
  readonly kind = 'in-process' as const;
  private readonly workerId = `${os.hostname()}:${process.pid}:inproc`;
  private readonly pool: ThreadPool;
  private readonly active = new Map<string, JobRun>();
  private readonly released = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private ticking = false;
  /** Only a started queue dispatches: a process opened with runJobs: false just records the run for another one. */
  private started = false;

  constructor(private readonly o: InProcessOptions) {
    this.pool = new ThreadPool({
      log: o.log,
      logLevel: o.logLevel,
      databaseUrl: o.databaseUrl,
      bridgeAdapter: () => o.db.connectAdapter(),
    });
  }

  async start(): Promise<void> {
    this.started = true;
    // With the embedded database this process is the only worker, so anything still "running" was orphaned
    // by a previous crash; with PostgreSQL other processes may be alive, so wait for their lock to lapse.
    const staleBefore = this.o.db.backend === 'pglite' ? new Date() : new Date(Date.now() - this.o.lockMs);
    const recovered = await runs.recoverLost(this.o.db.prisma, staleBefore);
    if (recovered.requeued || recovered.failed) this.o.log.warn(recovered, 'recovered job runs lost by a previous process');
    const every = (ms: number, fn: () => Promise<unknown>) =>
      this.timers.push(setInterval(() => void fn().catch((e) => this.o.log.error({ err: e.message }, 'job dispatcher')), ms).unref());
    every(this.o.pollMs ?? 500, () => this.tick());
    every(Math.max(1000, this.o.lockMs / 3), () => runs.heartbeat(this.o.db.prisma, [...this.active.keys()]));
    every(this.o.lockMs, () => runs.recoverLost(this.o.db.prisma, new Date(Date.now() - this.o.lockMs)));
    void this.tick();
  }

  async enqueue(name: string, payload: unknown, opts: EnqueueOptions = {}): Promise<JobRun> {
    const parsed = parsePayload(name, payload);
    const { run } = await runs.createRun(this.o.db.prisma, {
      name,
      payload: parsed,
      dedupeKey: opts.dedupeKey,
      maxAttempts: opts.maxAttempts ?? getJob(name).maxAttempts ?? this.o.defaultMaxAttempts,
    });
    void this.tick();
    return run;
  }

  async ping(): Promise<void> {
    if (this.stopping) throw new Error('job dispatcher is shutting down');
  }

  private async tick(): Promise<void> {
    if (!this.started || this.ticking || this.stopping) return;
    this.ticking = true;
    try {
      while (!this.stopping && this.active.size < this.o.concurrency) {
        const run = await runs.claimNext(this.o.db.prisma, this.workerId);
        if (!run) break;
        this.launch(run);
      }
    } finally {
      this.ticking = false;
    }
  }

  private launch(run: JobRun): void {
    const prisma = this.o.db.prisma;
    this.active.set(run.id, run);
    const onProgress = (p: number, m?: string) =>
      void runs.reportProgress(prisma, run.id, p, m).catch((e) => this.o.log.warn({ err: e.message }, 'progress write failed'));
    this.pool
      .run({ runId: run.id, name: run.name, payload: run.payload, attempt: run.attempts }, onProgress)
      .then(
        (result) => runs.markCompleted(prisma, run.id, result),
        async (err: Error) => {
          if (this.released.has(run.id)) return;
          const retrying = run.attempts < run.maxAttempts;
          // Backoff before the run becomes claimable again; during shutdown it is simply left queued for the
          // next start.
          if (retrying && !this.stopping) await sleep(Math.min(60_000, 1000 * 2 ** (run.attempts - 1)));
          await runs.markFailed(prisma, run.id, err.message, retrying);
        },
      )
      .catch((e) => this.o.log.error({ err: e.message, runId: run.id }, 'could not record job outcome'))
      .finally(() => {
        this.active.delete(run.id);
        this.released.delete(run.id);
        void this.tick();
      });
  }

  /** Stops claiming, lets running jobs finish within the timeout, then hands the rest back to the queue. */
  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.timers.forEach(clearInterval);
    const deadline = Date.now() + this.o.shutdownTimeoutMs;
    while (this.active.size && Date.now() < deadline) await sleep(100);
    const left = [...this.active.keys()];
    left.forEach((id) => this.released.add(id));
    if (left.length) {
      this.o.log.warn({ runs: left.length }, 'releasing unfinished job runs for the next start');
      this.pool.abortAll();
      await runs.release(this.o.db.prisma, left);
    }
    await this.pool.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
