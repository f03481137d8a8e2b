import type { MessagePort } from 'node:worker_threads';
import type { SqlDriverAdapter, SqlQuery, Transaction } from '@prisma/driver-adapter-utils';
import type { BridgeRequest, BridgeResponse } from './bridge.protocol';
import { serializeError } from './bridge.protocol';

/**
 * Serves a driver adapter to a worker thread over a MessagePort. PGlite runs inside this thread only, so job
 * threads reach it through here; every query still goes through PGlite's own lock, so a thread's transaction
 * holds other callers back exactly as a second connection would. Returns a function that rolls back whatever
 * the thread left open (it may have crashed mid-transaction) and stops serving.
 */
export function serveAdapter(adapter: SqlDriverAdapter, port: MessagePort): () => Promise<void> {
  const txs = new Map<number, Transaction>();
  let nextTx = 1;

  const handle = async (req: BridgeRequest): Promise<unknown> => {
    switch (req.op) {
      case 'queryRaw':
        return (req.tx ? tx(req.tx) : adapter).queryRaw(localize(req.query));
      case 'executeRaw':
        return (req.tx ? tx(req.tx) : adapter).executeRaw(localize(req.query));
      case 'executeScript':
        return adapter.executeScript(req.script);
      case 'startTransaction': {
        const t = await adapter.startTransaction(req.isolationLevel);
        const id = nextTx++;
        txs.set(id, t);
        return { id, options: t.options };
      }
      case 'commit':
      case 'rollback': {
        const t = tx(req.tx);
        txs.delete(req.tx);
        return req.op === 'commit' ? t.commit() : t.rollback();
      }
    }
  };
  const tx = (id: number) => {
    const t = txs.get(id);
    if (!t) throw new Error(`bridge: unknown transaction ${id}`);
    return t;
  };

  const onMessage = (req: BridgeRequest) => {
    handle(req).then(
      (value) => port.postMessage({ id: req.id, ok: true, value } satisfies BridgeResponse),
      (err) => port.postMessage({ id: req.id, ok: false, error: serializeError(err) } satisfies BridgeResponse),
    );
  };
  port.on('message', onMessage);

  return async () => {
    port.off('message', onMessage);
    const open = [...txs.values()];
    txs.clear();
    await Promise.allSettled(open.map((t) => t.rollback()));
  };
}

/**
 * Structured clone rebuilds a Date with the receiving realm's intrinsic Date. Where this thread's code runs in
 * another realm (jest's sandbox), PGlite's `instanceof Date` check then fails; rebuild dates in this realm.
 */
function localize(query: SqlQuery): SqlQuery {
  if (!query.args.some(isForeignDate)) return query;
  return { ...query, args: query.args.map((a) => (isForeignDate(a) ? new Date((a as Date).getTime()) : a)) };
}

function isForeignDate(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !(v instanceof Date) && Object.prototype.toString.call(v) === '[object Date]';
}
