import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { requestFeatureRefreshSql } from '../features/feature-refresh.enqueue';
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
 * work, about a third of the database's CPU per row; what remains is the heap and index inserts and the per-row
 * foreign-key check, which stay. Same semantics as ensureEventCustomers + upsertEvents: unknown customers are
 * created, unchanged rows are no-ops, a batch commits whole or not at all, one features.refresh is requested.
 *
 * Batches must not repeat an externalId (the import runner rejects such lines): the merge fails on it.
 */
export class EventsCopyWriter {
  private broken: Error | null = null;

  private constructor(private readonly client: pg.Client) {
    // A dropped connection emits 'error' on the client; unhandled it would kill the process. The running or next
    // write fails instead.
    client.on('error', (err) => {
      this.broken = err;
    });
  }

  static async open(databaseUrl: string): Promise<EventsCopyWriter> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      // Temporary: private to this connection (concurrent imports cannot see each other's rows) and never WAL-logged.
      // Emptied by every commit or rollback.
      await client.query(`create temporary table events_stage (
        external_id text not null, customer text not null, occurred_at timestamptz not null, type "EventType" not null,
        product_id text, category text, text text, text_hash text, properties jsonb not null) on commit delete rows`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return new EventsCopyWriter(client);
  }

  /**
   * The batch in COPY's text format. Separate from the write so the import can encode the next batch while the
   * previous one is still being merged (the database is otherwise idle while this runs).
   */
  encode(rows: readonly EventRow[]): EncodedEvents {
    return { text: copyText(rows), count: rows.length };
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
      const [created, merged] = (await c.query(ENSURE_AND_MERGE)) as unknown as [pg.QueryResult<{ n: number }>, pg.QueryResult<MergeRow>];
      const r = merged.rows[0]!;
      if (r.changed) await requestFeatureRefreshSql(c);
      await c.query('commit');
      return {
        received: batch.count,
        inserted: r.inserted,
        updated: r.changed - r.inserted,
        unchanged: batch.count - r.changed,
        customersCreated: created.rows[0]!.n,
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

const COPY = 'copy events_stage (external_id, customer, occurred_at, type, product_id, category, text, text_hash, properties) from stdin';

/**
 * Customers referred to but unknown are created as bare rows, already marked stale: each has at least one event
 * inserted or moved to it by the merge below, which would mark it anyway (one write instead of two). Sorted so
 * concurrent imports lock in the same order; the anti-join first, as in ensureEventCustomers.
 */
const ENSURE_CUSTOMERS = `
  with ins as (
    insert into customers (external_id, features_stale_at)
    select n.customer, now() from (select distinct s.customer from events_stage s) n
    where not exists (select 1 from customers c where c.external_id = n.customer)
    order by 1
    on conflict (external_id) do nothing returning 1)
  select count(*)::int as n from ins`;

/** upsertEvents' merge, reading the staging table instead of a JSON parameter. */
const ENSURE_AND_MERGE = `${ENSURE_CUSTOMERS};\n${mergeEventsSql('events_stage s')}`;

interface MergeRow {
  inserted: number;
  changed: number;
  search_ids: string[];
}

/** COPY text format: tab-separated, \N for null; backslash, tab, newline and carriage return escaped. */
export function copyText(rows: readonly EventRow[]): string {
  let out = '';
  for (const r of rows) {
    out +=
      `${esc(r.externalId)}\t${esc(r.customerExternalId)}\t${r.occurredAt.toISOString()}\t${r.type}\t${esc(r.productId)}\t` +
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
