import type { Env } from './config/env';
import { type Db, openDb } from './db/client';
import { hnswIndexSql } from './db/vector';
import type { Logger } from './lib/logger';
import { BullQueue } from './jobs/bullmq.transport';
import { InProcessQueue } from './jobs/inprocess.transport';
import type { JobQueue } from './jobs/queue.types';

/** The long-lived pieces every entrypoint shares: database, job queue, logger, configuration. */
export interface App {
  readonly env: Env;
  readonly log: Logger;
  readonly db: Db;
  readonly queue: JobQueue;
  close(): Promise<void>;
}

export async function createApp(env: Env, log: Logger, opts: { migrate: boolean; runJobs: boolean }): Promise<App> {
  const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR, poolSize: env.DATABASE_POOL_SIZE, log });
  try {
    if (opts.migrate) {
      const { applied } = await db.migrate();
      if (applied.length) log.info({ applied }, 'migrations applied');
      // The migrations index dimension 384; another configured model size gets its own partial index.
      for (const stmt of hnswIndexSql(env.EMBEDDING_DIM)) await db.prisma.$executeRawUnsafe(stmt);
    }
    const queue = await createQueue(env, log, db, opts.runJobs);
    log.info({ database: db.backend, jobs: queue.kind }, 'valuegraph ready');
    return {
      env,
      log,
      db,
      queue,
      async close() {
        await queue.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

async function createQueue(env: Env, log: Logger, db: Db, runJobs: boolean): Promise<JobQueue> {
  if (env.REDIS_URL) {
    return new BullQueue({ db, log, redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX, defaultMaxAttempts: env.JOB_MAX_ATTEMPTS });
  }
  const queue = new InProcessQueue({
    db,
    log,
    logLevel: env.LOG_LEVEL,
    databaseUrl: env.DATABASE_URL,
    concurrency: env.JOB_CONCURRENCY,
    defaultMaxAttempts: env.JOB_MAX_ATTEMPTS,
    lockMs: env.JOB_LOCK_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  });
  if (runJobs) await queue.start();
  return queue;
}
