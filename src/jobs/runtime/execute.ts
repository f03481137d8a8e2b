import type { PrismaClient } from '../../generated/prisma/client';
import type { Logger } from '../../lib/logger';
import { getJob, parsePayload } from '../registry';

export interface ExecuteInput {
  runId: string;
  name: string;
  payload: unknown;
  attempt: number;
}

/** Runs one job attempt; shared by the in-process worker threads and the BullMQ sandboxed processor. */
export async function executeJob(
  input: ExecuteInput,
  deps: { db: PrismaClient; log: Logger; signal: AbortSignal; progress: (p: number, m?: string) => void },
): Promise<unknown> {
  const job = getJob(input.name);
  const payload = parsePayload(input.name, input.payload);
  const log = deps.log.child({ job: input.name, runId: input.runId, attempt: input.attempt });
  const started = Date.now();
  log.info('job started');
  try {
    const result = await job.handler(payload, {
      runId: input.runId,
      attempt: input.attempt,
      db: deps.db,
      log,
      signal: deps.signal,
      progress: deps.progress,
    });
    log.info({ ms: Date.now() - started }, 'job finished');
    return result;
  } catch (err) {
    log.warn({ ms: Date.now() - started, err: (err as Error).message }, 'job attempt failed');
    throw err;
  }
}

/** Limits progress writes to one per interval (plus always the final 1.0) so chatty jobs don't flood the DB. */
export function throttle(fn: (p: number, m?: string) => void, intervalMs: number): (p: number, m?: string) => void {
  let last = 0;
  return (p, m) => {
    const now = Date.now();
    if (p >= 1 || now - last >= intervalMs) {
      last = now;
      fn(p, m);
    }
  };
}
