import path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { SqlDriverAdapter } from '@prisma/driver-adapter-utils';
import { serveAdapter } from '../../db/bridge.host';
import type { Logger } from '../../lib/logger';
import type { ExecuteInput } from './execute';
import { preloadNativeAddons } from './native-preload';
import type { FromThread, ThreadInit, ToThread } from './thread.protocol';

export interface ThreadPoolOptions {
  logLevel: string;
  log: Logger;
  /** Threads connect to PostgreSQL themselves when set... */
  databaseUrl?: string;
  /** ...else they borrow this adapter (PGlite) through a MessagePort bridge. */
  bridgeAdapter?: () => Promise<SqlDriverAdapter>;
}

interface Slot {
  worker: Worker;
  stopBridge?: () => Promise<void>;
  busy?: { runId: string; resolve: (v: unknown) => void; reject: (e: Error) => void; onProgress: Progress };
  dead: boolean;
}
type Progress = (p: number, m?: string) => void;

const ENTRY = path.join(__dirname, 'thread-bootstrap.cjs');

/** Job threads that are reused between runs; a crashed thread fails its run and is replaced on demand. */
export class ThreadPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private adapter?: Promise<SqlDriverAdapter>;

  constructor(private readonly opts: ThreadPoolOptions) {
    preloadNativeAddons();
  }

  async run(input: ExecuteInput, onProgress: Progress): Promise<unknown> {
    const slot = this.slots.find((s) => !s.busy && !s.dead) ?? (await this.spawn());
    return new Promise((resolve, reject) => {
      slot.busy = { runId: input.runId, resolve, reject, onProgress };
      slot.worker.postMessage({ type: 'run', run: input } satisfies ToThread);
    });
  }

  get active(): number {
    return this.slots.filter((s) => s.busy).length;
  }

  /** Asks running handlers to stop at their next safe point. */
  abortAll(): void {
    for (const s of this.slots) if (s.busy) s.worker.postMessage({ type: 'abort' } satisfies ToThread);
  }

  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(
      slots.map(async (s) => {
        s.dead = true;
        s.busy?.reject(new Error('job thread terminated by shutdown'));
        s.busy = undefined;
        await s.worker.terminate();
        await s.stopBridge?.();
      }),
    );
  }

  private async spawn(): Promise<Slot> {
    const init: ThreadInit = { threadId: this.nextId++, logLevel: this.opts.logLevel, databaseUrl: this.opts.databaseUrl };
    let stopBridge: (() => Promise<void>) | undefined;
    const transferList = [];
    if (!this.opts.databaseUrl) {
      if (!this.opts.bridgeAdapter) throw new Error('thread pool needs databaseUrl or bridgeAdapter');
      this.adapter ??= this.opts.bridgeAdapter();
      const { port1, port2 } = new MessageChannel();
      stopBridge = serveAdapter(await this.adapter, port1);
      init.bridgePort = port2;
      transferList.push(port2);
    }
    const worker = new Worker(ENTRY, { workerData: init, transferList });
    const slot: Slot = { worker, stopBridge, dead: false };
    this.slots.push(slot);
    worker.on('message', (msg: FromThread) => this.onMessage(slot, msg));
    worker.on('error', (err) => this.onExit(slot, `job thread crashed: ${err.message}`));
    worker.on('exit', (code) => this.onExit(slot, `job thread exited unexpectedly (code ${code})`));
    return slot;
  }

  private onMessage(slot: Slot, msg: FromThread): void {
    const busy = slot.busy;
    if (msg.type === 'ready' || !busy || busy.runId !== msg.runId) return;
    if (msg.type === 'progress') {
      busy.onProgress(msg.progress, msg.message);
      return;
    }
    slot.busy = undefined;
    if (msg.type === 'done') busy.resolve(msg.result);
    else busy.reject(new Error(msg.error));
  }

  private onExit(slot: Slot, reason: string): void {
    if (slot.dead) return;
    slot.dead = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    // The thread may have died inside a transaction on the shared PGlite: roll it back or everything waits.
    void slot.stopBridge?.();
    slot.busy?.reject(new Error(reason));
    slot.busy = undefined;
    this.opts.log.warn({ reason }, 'job thread gone');
  }
}
