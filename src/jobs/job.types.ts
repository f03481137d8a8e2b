import type { z } from 'zod';
import type { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../lib/logger';

export interface JobContext {
  readonly runId: string;
  /** 1 for the first try; retries after a failure or a lost worker count up. */
  readonly attempt: number;
  readonly db: PrismaClient;
  readonly log: Logger;
  /** Aborted when the worker is shutting down: long loops should stop at a safe point and throw. */
  readonly signal: AbortSignal;
  /** fraction in [0, 1]; throttled before it reaches the database. */
  progress(fraction: number, message?: string): void;
}

/**
 * A job: a name, a zod payload and a handler. Handlers must be idempotent (a retried or duplicated run writes
 * the same rows again, not new ones) because every transport may run a job more than once after a crash.
 */
export interface JobDefinition<P = unknown, R = unknown> {
  readonly name: string;
  readonly payload: z.ZodType<P>;
  readonly maxAttempts?: number;
  handler(payload: P, ctx: JobContext): Promise<R>;
}

export function defineJob<P, R>(def: JobDefinition<P, R>): JobDefinition<P, R> {
  return def;
}
