import type { SandboxedJob } from 'bullmq';
import { openDb, type Db } from '../../db/client';
import { createLogger } from '../../lib/logger';
import type { BullJobData } from '../bullmq.transport';
import { executeJob, throttle } from './execute';

/** Runs inside a BullMQ worker thread; one database pool per thread, reused across jobs. */
let db: Promise<Db> | undefined;
const log = createLogger(process.env.LOG_LEVEL ?? 'info', { thread: 'bullmq' });

export default async function processJob(job: SandboxedJob<BullJobData>): Promise<unknown> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required by BullMQ workers');
  db ??= openDb({ databaseUrl: url, poolSize: 2, log });
  const { prisma } = await db;
  const progress = throttle((p, m) => void job.updateProgress({ progress: p, message: m }), 250);
  return executeJob(
    { runId: job.data.runId, name: job.name, payload: job.data.payload, attempt: job.attemptsMade + 1 },
    { db: prisma, log, signal: new AbortController().signal, progress },
  );
}
