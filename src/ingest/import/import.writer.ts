import type { PrismaClient } from '../../generated/prisma/client';
import type { CommentRow, CustomerRow, TransactionRow } from '../ingest.schemas';
import { upsertComments, upsertCustomers, upsertTransactions } from '../ingest.service';
import type { Entity } from './import.types';
import type { EventRow } from '../../events/events.schemas';
import { ensureEventCustomers, upsertEvents } from '../../events/events-ingest.service';
import type { EncodedParts, EventsCopyPool } from '../../events/events-copy.pool';

export interface BatchResult {
  inserted: number;
  updated: number;
  unchanged: number;
  customersCreated: number;
  /** Comments whose embeddings are now missing or stale. */
  commentsChanged: number;
  /** Search events whose text is new or changed. */
  searchesChanged?: number;
}

export type ImportRow =
  | { entity: 'customers'; row: CustomerRow }
  | { entity: 'transactions'; row: TransactionRow; customerRegion?: string | null }
  | { entity: 'comments'; row: CommentRow }
  | { entity: 'events'; row: EventRow };

/** Events through the COPY writer (PostgreSQL): one batch, one transaction on the writer's own connection. */
export async function writeEventsCopy(pool: EventsCopyPool, parts: EncodedParts): Promise<BatchResult> {
  const r = await pool.write(parts);
  return { inserted: r.inserted, updated: r.updated, unchanged: r.unchanged, customersCreated: r.customersCreated, commentsChanged: 0, searchesChanged: r.changedSearchIds.length };
}

type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/**
 * Writes one batch in one database transaction with the same upserts as the GraphQL mutations. Events of a
 * customer the database does not know create that customer as a bare row first (region filled from the
 * file when the format has one): in CDNOW and Online Retail files customers exist only implicitly.
 */
export async function writeBatch(prisma: PrismaClient, entity: Entity, batch: ImportRow[]): Promise<BatchResult> {
  return prisma.$transaction(
    async (tx) => {
      if (entity === 'customers') {
        const r = await upsertCustomers(tx, batch.map((b) => b.row as CustomerRow));
        return { ...r, customersCreated: 0, commentsChanged: 0 };
      }
      if (entity === 'events') {
        const rows = batch.map((b) => b.row as EventRow);
        const customersCreated = await ensureEventCustomers(tx, rows);
        const r = await upsertEvents(tx, rows);
        return { inserted: r.inserted, updated: r.updated, unchanged: r.unchanged, customersCreated, commentsChanged: 0, searchesChanged: r.changedSearchIds.length };
      }
      const customersCreated = await ensureCustomers(tx, batch);
      if (entity === 'transactions') {
        const r = await upsertTransactions(tx, batch.map((b) => b.row as TransactionRow));
        return { ...r, customersCreated, commentsChanged: 0 };
      }
      const r = await upsertComments(tx, batch.map((b) => b.row as CommentRow));
      return { inserted: r.inserted, updated: r.updated, unchanged: r.unchanged, customersCreated, commentsChanged: r.changedCommentIds.length };
    },
    // Prisma's 5 s default is too short for a 5,000-row batch on a busy embedded database.
    { timeout: 300_000, maxWait: 60_000 },
  );
}

async function ensureCustomers(tx: Tx, batch: ImportRow[]): Promise<number> {
  const byId = new Map<string, string | null>();
  for (const b of batch) {
    const row = b.row as TransactionRow | CommentRow;
    const region = b.entity === 'transactions' ? (b.customerRegion ?? null) : null;
    if (!byId.has(row.customerExternalId) || region !== null) byId.set(row.customerExternalId, region);
  }
  // Sorted so concurrent imports lock customers in the same order and cannot deadlock.
  const json = JSON.stringify([...byId].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([external_id, region]) => ({ external_id, region })));
  const rows = await tx.$queryRaw<{ inserted: boolean }[]>`
    insert into customers (external_id, region)
    select r.external_id, r.region from jsonb_to_recordset(${json}::jsonb) as r(external_id text, region text)
    on conflict (external_id) do update set region = excluded.region, updated_at = now()
    where excluded.region is not null and customers.region is distinct from excluded.region
    returning (xmax = 0) as inserted`;
  return rows.filter((r) => r.inserted).length;
}
