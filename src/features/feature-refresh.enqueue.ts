import crypto from 'node:crypto';
import { parseEnv } from '../config/env';
import type { PrismaClient } from '../generated/prisma/client';

type Tx = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

export const REFRESH_JOB = 'features.refresh';
export const REFRESH_DEDUPE_KEY = 'features.refresh';
const DEFAULT_DEBOUNCE_MS = 2000;

/**
 * Called inside every ingest transaction that marks customers stale: makes sure one features.refresh run is
 * pending, written in the SAME transaction (an outbox), so a committed batch can never lose its refresh and a
 * rolled-back one never triggers it. A burst of batches collapses into one run: while a run holds the dedupe key
 * (queued, or running but still in its debounce pause) nothing new is written; once the run has released the key
 * (see releaseRefreshSlot) the next batch writes a new one.
 *
 * The advisory lock is enqueue's own (same key, same hash, src/jobs/job-runs.ts createRun); it is taken as the
 * last statement of the batch and held only until its commit.
 * Transports: in-process, the dispatcher claims the row on its next poll; BullMQ, the worker's reconciler hands
 * queued rows older than 5 s to Redis (so there the hand-off itself adds 5 s + up to JOB_LOCK_MS of debounce).
 */
export async function requestFeatureRefresh(tx: Tx): Promise<void> {
  await tx.$executeRaw`select pg_advisory_xact_lock(hashtextextended(${REFRESH_DEDUPE_KEY}, 7))`;
  const pending = await tx.jobRun.findFirst({ where: { dedupeKey: REFRESH_DEDUPE_KEY, finishedAt: null }, select: { id: true } });
  if (pending) return;
  await tx.jobRun.create({ data: { name: REFRESH_JOB, dedupeKey: REFRESH_DEDUPE_KEY, maxAttempts: 3, payload: refreshPayload() } });
}

/** The parts of a pg client (or pool client) requestFeatureRefreshSql needs. */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/**
 * requestFeatureRefresh for writers that hold a raw pg connection instead of a Prisma transaction (the events COPY
 * import): the same lock, the same pending check and the same row, inside the caller's open transaction.
 */
export async function requestFeatureRefreshSql(client: SqlClient): Promise<void> {
  await client.query('select pg_advisory_xact_lock(hashtextextended($1, 7))', [REFRESH_DEDUPE_KEY]);
  await client.query(
    `insert into job_runs (id, name, dedupe_key, max_attempts, payload)
     select $1::uuid, $2::text, $3::text, 3, $4::jsonb
     where not exists (select 1 from job_runs where dedupe_key = $3::text and finished_at is null)`,
    [crypto.randomUUID(), REFRESH_JOB, REFRESH_DEDUPE_KEY, JSON.stringify(refreshPayload())],
  );
}

function refreshPayload() {
  return { limit: 50_000, rescore: true, debounceMs: debounceMs() };
}

/**
 * The run gives up the dedupe key right before it reads the stale customers. Under the same lock, so every batch
 * either committed before (its customers are read by this run) or sees no pending run and writes a new one.
 */
export async function releaseRefreshSlot(db: PrismaClient, runId: string): Promise<void> {
  await db.$transaction(async (tx) => {
    await tx.$executeRaw`select pg_advisory_xact_lock(hashtextextended(${REFRESH_DEDUPE_KEY}, 7))`;
    await tx.$executeRaw`update job_runs set dedupe_key = null where id = ${runId}::uuid and dedupe_key = ${REFRESH_DEDUPE_KEY}`;
  });
}

function debounceMs(): number {
  try {
    return parseEnv(process.env).FEATURE_REFRESH_DEBOUNCE_MS;
  } catch {
    return DEFAULT_DEBOUNCE_MS;
  }
}
