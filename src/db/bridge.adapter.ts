import type { MessagePort } from 'node:worker_threads';
import type {
  IsolationLevel,
  SqlDriverAdapter,
  SqlDriverAdapterFactory,
  SqlQuery,
  SqlResultSet,
  Transaction,
  TransactionOptions,
} from '@prisma/driver-adapter-utils';
import { type BridgeRequest, type BridgeResponse, deserializeError } from './bridge.protocol';

type DistributiveOmit<T, K extends keyof never> = T extends unknown ? Omit<T, K> : never;

/** Worker-thread side of bridge.host.ts: a Prisma driver adapter whose queries run on the owning thread. */
export class BridgeAdapterFactory implements SqlDriverAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName = 'valuegraph-bridge';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly port: MessagePort) {
    port.on('message', (res: BridgeResponse) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      if (res.ok) p.resolve(res.value);
      else p.reject(deserializeError(res.error));
    });
  }

  call<T>(req: DistributiveOmit<BridgeRequest, 'id'>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ ...req, id });
    });
  }

  async connect(): Promise<SqlDriverAdapter> {
    return new BridgeAdapter(this);
  }
}

class BridgeQueryable {
  readonly provider = 'postgres' as const;
  readonly adapterName = 'valuegraph-bridge';
  constructor(
    protected readonly f: BridgeAdapterFactory,
    protected readonly tx?: number,
  ) {}
  queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return this.f.call({ op: 'queryRaw', query, tx: this.tx });
  }
  executeRaw(query: SqlQuery): Promise<number> {
    return this.f.call({ op: 'executeRaw', query, tx: this.tx });
  }
}

class BridgeTransaction extends BridgeQueryable implements Transaction {
  constructor(
    f: BridgeAdapterFactory,
    tx: number,
    readonly options: TransactionOptions,
  ) {
    super(f, tx);
  }
  commit(): Promise<void> {
    return this.f.call({ op: 'commit', tx: this.tx! });
  }
  rollback(): Promise<void> {
    return this.f.call({ op: 'rollback', tx: this.tx! });
  }
}

class BridgeAdapter extends BridgeQueryable implements SqlDriverAdapter {
  executeScript(script: string): Promise<void> {
    return this.f.call({ op: 'executeScript', script });
  }
  async startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
    const { id, options } = await this.f.call<{ id: number; options: TransactionOptions }>({
      op: 'startTransaction',
      isolationLevel,
    });
    return new BridgeTransaction(this.f, id, options);
  }
  getConnectionInfo() {
    return { supportsRelationJoins: true };
  }
  async dispose(): Promise<void> {}
}
