import { CustomerIdCache } from './customer-id.cache';
import { type EncodedEvents, EventsCopyWriter, type EventsCopyResult } from './events-copy.writer';
import type { EventRow } from './events.schemas';

/** One batch split over the pool's connections: part i goes to connection i. */
export type EncodedParts = EncodedEvents[];

/**
 * The events import's writers: one COPY connection or several (IMPORT_EVENTS_CONNECTIONS), each batch split between
 * them by a hash of the event's externalId, so a database with cores to spare works on parts of a batch at once. On
 * the 2-core benchmark machine two connections gave the same wall time as one for 7–10% more CPU (the import's own
 * parsing takes the other core), hence the default of one.
 *
 * Why it stays correct:
 * - the same externalId always goes to the same connection, and batch n+1 starts after all parts of batch n have
 *   committed, so the later line of a file still wins;
 * - new customers are inserted in sorted order and the stale marks lock customers in id order (mergeEventsSql), so
 *   two parts touching the same customers wait for each other but cannot deadlock;
 * - each part is its own transaction: a batch commits part by part. The import (a re-runnable, idempotent job whose
 *   rows are accepted or rejected line by line) needs no more; the all-or-nothing GraphQL mutation does not use this.
 */
export class EventsCopyPool {
  private constructor(private readonly writers: EventsCopyWriter[]) {}

  static async open(databaseUrl: string, connections: number): Promise<EventsCopyPool> {
    // One cache for all: a customer resolved by one connection's batch is known to the others' next ones.
    const cache = new CustomerIdCache();
    const opened = await Promise.allSettled(Array.from({ length: Math.max(1, connections) }, () => EventsCopyWriter.open(databaseUrl, cache)));
    const writers = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) {
      await Promise.all(writers.map((w) => w.close()));
      throw failed.reason;
    }
    return new EventsCopyPool(writers);
  }

  encode(rows: readonly EventRow[]): EncodedParts {
    const n = this.writers.length;
    if (n === 1) return [this.writers[0]!.encode(rows)];
    const parts: EventRow[][] = Array.from({ length: n }, () => []);
    for (const r of rows) parts[partOf(r.externalId, n)]!.push(r);
    return parts.map((p, i) => this.writers[i]!.encode(p));
  }

  /** Writes the parts concurrently; waits for all of them (a failed part does not cancel the others). */
  async write(parts: EncodedParts): Promise<EventsCopyResult> {
    const settled = await Promise.allSettled(parts.map((p, i) => this.writers[i]!.writeEncoded(p)));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const total: EventsCopyResult = { received: 0, inserted: 0, updated: 0, unchanged: 0, customersCreated: 0, changedSearchIds: [] };
    for (const s of settled as PromiseFulfilledResult<EventsCopyResult>[]) {
      const r = s.value;
      total.received += r.received;
      total.inserted += r.inserted;
      total.updated += r.updated;
      total.unchanged += r.unchanged;
      total.customersCreated += r.customersCreated;
      total.changedSearchIds.push(...r.changedSearchIds);
    }
    return total;
  }

  async close(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.close()));
  }
}

/**
 * FNV-1a over the UTF-16 code units, then murmur3's finalizer: FNV's low bits are only the parity of the characters'
 * low bits, so without mixing `% 2` would send "c-12" and "c-21" to the same part.
 */
export function partOf(externalId: string, parts: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < externalId.length; i++) {
    h ^= externalId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % parts;
}
