import { loadEnvOrExit } from '../src/config/env';
import { openDb } from '../src/db/client';
import { startBullWorker } from '../src/jobs/bullmq.worker';
import { startBullSchedules } from '../src/jobs/schedules';
import { retrainConfigFromEnv, validateRetrainConfig } from '../src/models/training/retrain-schedule';
import { createLogger, setRootLogger } from '../src/lib/logger';
import { onShutdown } from '../src/lib/shutdown';

/**
 * Worker entrypoint (`npm run worker`): consumes the BullMQ queue. It never runs migrations; it needs the API
 * or `npm run db:migrate` to have brought the schema up to date.
 */
async function main() {
  const env = loadEnvOrExit();
  const log = createLogger(env.LOG_LEVEL, { role: 'worker' });
  setRootLogger(log);
  if (!env.REDIS_URL || !env.DATABASE_URL) {
    process.stderr.write(
      'Invalid configuration: REDIS_URL and DATABASE_URL are required by the worker (without Redis, jobs run inside the API process)\n',
    );
    process.exit(1);
  }
  const retrain = retrainConfigFromEnv(env);
  if (retrain) {
    try {
      validateRetrainConfig(retrain);
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  const db = await openDb({ databaseUrl: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE, log });
  const worker = await startBullWorker({
    db,
    log,
    redisUrl: env.REDIS_URL,
    prefix: env.QUEUE_PREFIX,
    concurrency: env.JOB_CONCURRENCY,
    lockMs: env.JOB_LOCK_MS,
  });
  // Scheduled retraining (RETRAIN_CRON): one BullMQ job scheduler shared by all workers; unset removes it.
  const schedules = await startBullSchedules({ prisma: db.prisma, log, redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX, retrain });
  onShutdown(log, env.SHUTDOWN_TIMEOUT_MS + 5000, async () => {
    await schedules.close();
    await worker.close();
    await db.close();
  });
}

main().catch((err) => {
  process.stderr.write(`valuegraph worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
