import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { requestFeatureRefreshSql } from '../features/feature-refresh.enqueue';
import { CustomerIdCache } from './customer-id.cache';
import { type EventsResult, mergeEventsSql, textHash } from './events-ingest.service';
import type { EventRow } from './events.schemas';

export type EventsCopyResult = Omit<EventsResult, 'customers'> & { customersCreated: number };

/** A batch already in COPY's text format (EventsCopyWriter.encode). */
export interface EncodedEvents {
  text: string;
  count: number;
}

/**
 * The CLI's events import on PostgreSQL: each batch is COPYed (text format) into a session-local staging table and
 * merged into `events` with one set-based statement, all in one transaction on one dedicated connection. Against
 * the Prisma path (one jsonb_to_recordset upsert) this drops the server-side JSON parsing and Prisma's per-query
 * work; what remains is the heap and index inserts and the per-row foreign-key check. Same semantics as
 * ensureEventCustomers + upsertEvents: unknown customers are created, unchanged rows are no-ops, a batch commits
 * whole or not at all, one features.refresh is requested.
 *
 * Customer ids the import has already resolved travel in the COPY data (`cache`, filled only from committed
 * batches): the statements then look up by index only the customers not seen yet, instead of hashing the whole
 * customers table twice per batch, a cost that grew with the customers, not the batch. A cached id whose customer
 * was erased meanwhile fails the batch on the foreign key (loudly, never a silently dropped row).
 *
 * Batches must not repeat an externalId (the import runner rejects such lines): the merge fails on it.
 */
export class EventsCopyWriter {
  private broken: Error | null = null;

  private constructor(
    private readonly client: pg.Client,
    private readonly cache: CustomerIdCache,
  ) {
    // A dropped connection emits 'error' on the client; unhandled it would kill the process. The running or next
    // write fails instead.
    client.on('error', (err) => {
      this.broken = err;
    });
  }

  static async open(databaseUrl: string, cache = new CustomerIdCache()): Promise<EventsCopyWriter> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      // Temporary: private to this connection (concurrent imports cannot see each other's rows) and never WAL-logged.
      // Emptied by every commit or rollback.
      await client.query(`create temporary table events_stage (
        external_id text not null, customer text not null, customer_id int, occurred_at timestamptz not null,
        type "EventType" not null, product_id text, category text, text text, text_hash text, properties jsonb not null)
        on commit delete rows`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return new EventsCopyWriter(client, cache);
  }

  /**
   * The batch in COPY's text format. Separate from the write so the import can encode the next batch while the
   * previous one is still being merged (the database is otherwise idle while this runs).
   */
  encode(rows: readonly EventRow[]): EncodedEvents {
    return { text: copyText(rows, this.cache), count: rows.length };
  }

  async write(rows: readonly EventRow[]): Promise<EventsCopyResult> {
    return this.writeEncoded(this.encode(rows));
  }

  async writeEncoded(batch: EncodedEvents): Promise<EventsCopyResult> {
    if (this.broken) throw this.broken;
    if (!batch.count) return { received: 0, inserted: 0, updated: 0, unchanged: 0, customersCreated: 0, changedSearchIds: [] };
    const c = this.client;
    await c.query('begin');
    try {
      await pipeline(Readable.from([batch.text]), c.query(copyFrom(COPY)));
      // Both statements are constant text (they read only the staging table), so they travel as one simple query:
      // one round trip instead of two. Each still runs with its own snapshot, so the merge sees the customers the
      // first one created (or a concurrent import committed while it waited on their keys).
      const [resolved, merged] = (await c.query(ENSURE_AND_MERGE)) as unknown as [pg.QueryResult<Resolved>, pg.QueryResult<MergeRow>];
      const r = merged.rows[0]!;
      if (r.changed) await requestFeatureRefreshSql(c);
      await c.query('commit');
      for (const x of resolved.rows) this.cache.set(x.customer, x.id);
      return {
        received: batch.count,
        inserted: r.inserted,
        updated: r.changed - r.inserted,
        unchanged: batch.count - r.changed,
        customersCreated: resolved.rows.filter((x) => x.created).length,
        changedSearchIds: r.search_ids.map((id) => BigInt(id)),
      };
    } catch (err) {
      if (!this.broken) await c.query('rollback').catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }
}

const COPY =
  'copy events_stage (external_id, customer, customer_id, occurred_at, type, product_id, category, text, text_hash, properties) from stdin';

interface Resolved {
  customer: string;
  id: number;
  created: boolean;
}

interface MergeRow {
  inserted: number;
  changed: number;
  search_ids: string[];
}

/**
 * The customers of this batch the cache did not know: looked up one by one through the external_id index (a
 * scalar subquery, so the plan cannot turn into a hash of the whole table), the missing ones created as bare rows,
 * already marked stale (the merge below inserts or moves at least one event to each, which would mark it anyway).
 * Sorted so concurrent imports lock in the same order. A customer another import creates at the same moment is
 * skipped by ON CONFLICT and returned by neither branch; the merge, with a later snapshot, finds it.
 */
const ENSURE_CUSTOMERS = `
  with n as (select distinct s.customer from events_stage s where s.customer_id is null),
  known as (select n.customer, (select k.id from customers k where k.external_id = n.customer) as id from n),
  ins as (
    insert into customers (external_id, features_stale_at)
    select customer, now() from known where id is null
    order by 1
    on conflict (external_id) do nothing returning id, external_id)
  select external_id as customer, id, true as created from ins
  union all
  select customer, id, false from known where id is not null`;

/** upsertEvents' merge, reading the staging table; ids not in the COPY data are looked up by index. */
const ENSURE_AND_MERGE = `${ENSURE_CUSTOMERS};\n${mergeEventsSql(
  `events_stage s cross join lateral (select coalesce(s.customer_id, (select k.id from customers k where k.external_id = s.customer)) as id) c`,
)}`;

/** COPY text format: tab-separated, \N for null; backslash, tab, newline and carriage return escaped. */
export function copyText(rows: readonly EventRow[], ids?: CustomerIdCache): string {
  let out = '';
  for (const r of rows) {
    const id = ids?.get(r.customerExternalId);
    out +=
      `${esc(r.externalId)}\t${esc(r.customerExternalId)}\t${id ?? '\\N'}\t${r.occurredAt.toISOString()}\t${r.type}\t${esc(r.productId)}\t` +
      `${esc(r.category)}\t${esc(r.text)}\t${r.text == null ? '\\N' : textHash(r.text)}\t${esc(JSON.stringify(r.properties ?? {}))}\n`;
  }
  return out;
}

const SPECIAL = /[\\\t\n\r]/g;
const HAS_SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function esc(v: string | null | undefined): string {
  if (v == null) return '\\N';
  return HAS_SPECIAL.test(v) ? v.replace(SPECIAL, (ch) => ESCAPES[ch]!) : v;
}
