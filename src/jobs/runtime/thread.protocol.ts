import type { MessagePort } from 'node:worker_threads';
import type { ExecuteInput } from './execute';

export interface ThreadInit {
  threadId: number;
  logLevel: string;
  databaseUrl?: string;
  bridgePort?: MessagePort;
}

export type ToThread = { type: 'run'; run: ExecuteInput } | { type: 'abort' };

export type FromThread =
  | { type: 'ready' }
  | { type: 'progress'; runId: string; progress: number; message?: string }
  | { type: 'done'; runId: string; result: unknown }
  | { type: 'failed'; runId: string; error: string };
