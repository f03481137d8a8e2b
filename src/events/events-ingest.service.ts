import crypto from 'node:crypto';
import { requestFeatureRefresh } from '../features/feature-refresh.enqueue';
import type { PrismaClient } from '../generated/prisma/client';
import { customerRow } from '../ingest/ingest.schemas';
import { BATCH_TX, type IngestResult, upsertCustomers } from '../ingest/ingest.service';
import { validateBatch } from '../ingest/validate';
import { DomainError, type FieldIssue, badInput } from '../lib/errors';
import { type EventRow, eventRow } from './events.schemas';

type Tx = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

export interface EventsResult extends IngestResult {
  customers: IngestResult | null;
  /** Search events that are new or whose text changed: exactly the ones to (re)embed. */
  changedSearchIds: bigint[];
}

/**
 * GraphQL batch: events plus, optionally, the customers they refer to. Both lists are validated before any write
 * and every issue is reported together (customer issues as "customers.<field>"); then customers and events are
 * upserted in ONE transaction, so a failure leaves nothing behind. Same rules as ingestTransactions.
 */
export async function ingestEventBatch(prisma: PrismaClient, rows: unknown[], customers?: unknown[] | null): Promise<EventsResult> {
  const issues: FieldIssue[] = [];
  const collect = <T>(fn: () => T, prefix?: string): T | null => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof DomainError) || e.code !== 'BAD_USER_INPUT') throw e;
      for (const i of e.details?.issues ?? [{ field: 'rows', message: e.message }]) issues.push(prefix ? { ...i, field: `${prefix}.${i.field}` } : i);
      return null;
    }
  };
  const validCustomers = customers ? collect(() => validateBatch(customers, customerRow, 'ingestEvents.customers'), 'customers') : [];
  const validRows = collect(() => validateBatch(rows, eventRow, 'ingestEvents'));
  if (issues.length || !validCustomers || !validRows) {
    const bad = new Set(issues.map((i) => `${i.field.startsWith('customers.') ? 'c' : 'r'}${i.row}`)).size;
    throw badInput(`ingestEvents: ${bad} invalid row(s); nothing was written`, issues);
  }
  return prisma.$transaction(async (tx) => {
    const c = validCustomers.length ? await upsertCustomers(tx, validCustomers) : null;
    if (!validRows.length) return { received: 0, inserted: 0, updated: 0, unchanged: 0, customers: c, changedSearchIds: [] };
    await assertCustomersExist(tx, validRows);
    return { ...(await upsertEvents(tx, validRows)), customers: c };
  }, BATCH_TX);
}

/** sha256 hex of an event text: an embedding is current when computed from the same hash. */
export const textHash = (t: string) => crypto.createHash('sha256').update(t, 'utf8').digest('hex');

/**
 * Upsert keyed by externalId (one JSON parameter, jsonb_to_recordset). `IS DISTINCT FROM` makes a repeated batch
 * a no-op. Rows whose customer does not exist are dropped by the join: callers check (GraphQL) or create them
 * (CLI import) first.
 */
export async function upsertEvents(tx: Tx, rows: EventRow[]): Promise<Omit<EventsResult, 'customers'>> {
  const json = JSON.stringify(
    rows.map((r) => ({
      external_id: r.externalId,
      customer: r.customerExternalId,
      occurred_at: r.occurredAt.toISOString(),
      type: r.type,
      product_id: r.productId ?? null,
      category: r.category ?? null,
      text: r.text ?? null,
      text_hash: r.text == null ? null : textHash(r.text),
      properties: r.properties ?? {},
    })),
  );
  // One round trip: the upsert, the stale mark of the customers whose events changed (event features are part of
  // their feature vector) and the counts; only the ids of changed search events travel back.
  const [r] = await tx.$queryRawUnsafe<{ inserted: number; changed: number; search_ids: string[] }[]>(
    mergeEventsSql(`jsonb_to_recordset($1::jsonb) as s(external_id text, customer text, occurred_at timestamptz, type text,
      product_id text, category text, text text, text_hash text, properties jsonb)
      join customers c on c.external_id = s.customer`),
    json,
  );
  const changed = Number(r?.changed ?? 0);
  const inserted = Number(r?.inserted ?? 0);
  // As for transactions: one pending features.refresh run, written in this transaction (last statement: its lock
  // is held until commit).
  if (changed) await requestFeatureRefresh(tx);
  return {
    received: rows.length,
    inserted,
    updated: changed - inserted,
    unchanged: rows.length - changed,
    changedSearchIds: (r?.search_ids ?? []).map((id) => BigInt(id)),
  };
}

/**
 * The merge both writers run (this JSON statement and the COPY writer's staging table): an upsert keyed by
 * externalId from `source` (relations aliased s, with the columns external_id, customer, occurred_at, type,
 * product_id, category, text, text_hash, properties, and c, whose id is the customer's), where `IS DISTINCT FROM`
 * makes a repeated row a no-op; the stale mark of the customers whose events changed (event features are part of their feature vector), locked in id
 * order so concurrent writers touching the same customers queue instead of deadlocking; and the
 * counts, with only the ids of changed search events travelling back. `source` is SQL text written in this module
 * and the COPY writer, never input: values reach it as bind parameters or COPY data.
 */
export function mergeEventsSql(source: string): string {
  return `
    with up as (
      insert into events (external_id, customer_id, occurred_at, type, product_id, category, text, text_hash, properties)
      select s.external_id, c.id, s.occurred_at, s.type::"EventType", s.product_id, s.category, s.text, s.text_hash, s.properties
      from ${source}
      on conflict (external_id) do update set customer_id = excluded.customer_id, occurred_at = excluded.occurred_at,
        type = excluded.type, product_id = excluded.product_id, category = excluded.category, text = excluded.text,
        text_hash = excluded.text_hash, properties = excluded.properties, updated_at = now()
      where (events.customer_id, events.occurred_at, events.type, events.product_id, events.category, events.text_hash, events.properties)
        is distinct from (excluded.customer_id, excluded.occurred_at, excluded.type, excluded.product_id, excluded.category,
        excluded.text_hash, excluded.properties)
      returning (xmax = 0) as inserted, id, customer_id, (type = 'search' and text_hash is not null) as search),
    stale as (
      update customers set features_stale_at = now()
      where id in (select k.id from customers k where k.id in (select customer_id from up) and k.features_stale_at is null
        order by k.id for no key update of k))
    select (count(*) filter (where inserted))::int as inserted, count(*)::int as changed,
      coalesce(jsonb_agg(id::text) filter (where search), '[]'::jsonb) as search_ids
    from up`;
}

/**
 * CLI import: customers referred to by events but unknown are created as bare rows. Unlike the transactions path
 * there is no region to fill in, so existing customers are left alone (no row lock, no write). Sorted so
 * concurrent imports take locks in the same order. Returns how many were created.
 */
export async function ensureEventCustomers(tx: Tx, rows: readonly EventRow[]): Promise<number> {
  const ids = [...new Set(rows.map((r) => r.customerExternalId))].sort();
  // The anti-join first: almost every customer exists already, and a plain ON CONFLICT would attempt (and undo)
  // a speculative insertion for each of them.
  const [r] = await tx.$queryRaw<{ n: number }[]>`
    with ins as (
      insert into customers (external_id)
      select i.x from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb) as i(x)
      where not exists (select 1 from customers c where c.external_id = i.x)
      order by 1
      on conflict (external_id) do nothing returning 1)
    select count(*)::int as n from ins`;
  return Number(r?.n ?? 0);
}

async function assertCustomersExist(tx: Tx, rows: EventRow[]): Promise<void> {
  const ids = [...new Set(rows.map((r) => r.customerExternalId))];
  const found = await tx.$queryRaw<{ external_id: string }[]>`
    select external_id from customers where external_id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`;
  const known = new Set(found.map((f) => f.external_id));
  const issues = rows.flatMap((r, i) =>
    known.has(r.customerExternalId) ? [] : [{ row: i, field: 'customerExternalId', message: `unknown customer "${r.customerExternalId}"` }],
  );
  if (issues.length) throw badInput(`ingestEvents: ${issues.length} row(s) refer to unknown customers; nothing was written`, issues);
}
