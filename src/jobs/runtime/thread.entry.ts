import { MessagePort, parentPort, workerData } from 'node:worker_threads';
import { PrismaClient } from '../../generated/prisma/client';
import { BridgeAdapterFactory } from '../../db/bridge.adapter';
import { QUERY_PLAN_CACHE, openDb } from '../../db/client';
import { createLogger } from '../../lib/logger';
import { executeJob, throttle } from './execute';
import type { FromThread, ThreadInit, ToThread } from './thread.protocol';

/**
 * A job thread of the in-process transport. It gets its own database client: a direct pool when PostgreSQL is
 * configured, else a bridge to the PGlite instance owned by the main thread.
 */
const init = workerData as ThreadInit;
const port = parentPort!;
const log = createLogger(init.logLevel, { thread: init.threadId });

const dbReady = (async (): Promise<PrismaClient> => {
  if (init.databaseUrl) return (await openDb({ databaseUrl: init.databaseUrl, poolSize: 2, log })).prisma;
  return new PrismaClient({ adapter: new BridgeAdapterFactory(init.bridgePort as MessagePort) as never, queryPlanCacheMaxSize: QUERY_PLAN_CACHE });
})();

let abort = new AbortController();
const send = (msg: FromThread) => port.postMessage(msg);

port.on('message', (msg: ToThread) => {
  if (msg.type === 'abort') {
    abort.abort();
    return;
  }
  abort = new AbortController();
  const { run } = msg;
  const progress = throttle((p, m) => send({ type: 'progress', runId: run.runId, progress: p, message: m }), 250);
  dbReady
    .then((db) => executeJob(run, { db, log, signal: abort.signal, progress }))
    .then(
      (result) => send({ type: 'done', runId: run.runId, result }),
      (err: Error) => send({ type: 'failed', runId: run.runId, error: err?.message ?? String(err) }),
    );
});
send({ type: 'ready' });
