import type { JobRun } from '../generated/prisma/client';

export interface EnqueueOptions {
  /** An active run with this key is returned instead of starting another (e.g. one training at a time). */
  dedupeKey?: string;
  maxAttempts?: number;
}

/** What the API needs from a transport; both transports keep the JobRun table as the source of truth. */
export interface JobQueue {
  readonly kind: 'in-process' | 'bullmq';
  enqueue(name: string, payload: unknown, opts?: EnqueueOptions): Promise<JobRun>;
  /** Throws when the transport cannot take work (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
