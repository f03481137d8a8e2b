import crypto from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client';
import { requestFeatureRefresh } from '../features/feature-refresh.enqueue';
import { badInput } from '../lib/errors';
import { type CommentRow, type CustomerRow, type TransactionRow, commentRow, customerRow, transactionRow } from './ingest.schemas';
import { validateBatch } from './validate';

export interface IngestResult {
  received: number;
  inserted: number;
  updated: number;
  unchanged: number;
}

/** A 5,000-row batch on a busy machine outlives Prisma's 5 s default for interactive transactions. */
export const BATCH_TX = { timeout: 120_000, maxWait: 30_000 };

type Tx = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

/**
 * Batch upserts keyed by externalId. One JSON parameter expanded with jsonb_to_recordset keeps every query
 * parameterized and fast on both backends; `IS DISTINCT FROM` makes a repeated batch a no-op (no new row, no
 * changed updated_at), so retries and duplicates are harmless. Rows are written in external_id order so that
 * overlapping batches running at once take their row locks in one order (opposite orders deadlocked).
 */
export async function ingestCustomers(prisma: PrismaClient, rows: unknown[]): Promise<IngestResult> {
  const valid = validateBatch(rows, customerRow, 'ingestCustomers');
  if (!valid.length) return empty(0);
  return prisma.$transaction((tx) => upsertCustomers(tx, valid), BATCH_TX);
}

export async function upsertCustomers(tx: Tx, rows: CustomerRow[]): Promise<IngestResult> {
  const json = JSON.stringify(
    rows.map((r) => ({
      external_id: r.externalId,
      birth_year: r.birthYear ?? null,
      gender: r.gender ?? null,
      region: r.region ?? null,
      signup_date: r.signupDate?.toISOString() ?? null,
      attributes: r.attributes ?? {},
    })),
  );
  const changed = await tx.$queryRaw<{ inserted: boolean }[]>`
    insert into customers (external_id, birth_year, gender, region, signup_date, attributes)
    select r.external_id, r.birth_year, r.gender, r.region, r.signup_date, r.attributes
    from jsonb_to_recordset(${json}::jsonb) as r(external_id text, birth_year int, gender text, region text,
      signup_date timestamptz, attributes jsonb)
    order by r.external_id
    on conflict (external_id) do update set birth_year = excluded.birth_year, gender = excluded.gender,
      region = excluded.region, signup_date = excluded.signup_date, attributes = excluded.attributes, updated_at = now()
    where (customers.birth_year, customers.gender, customers.region, customers.signup_date, customers.attributes)
      is distinct from (excluded.birth_year, excluded.gender, excluded.region, excluded.signup_date, excluded.attributes)
    returning (xmax = 0) as inserted`;
  return tally(rows.length, changed);
}

export async function ingestTransactions(prisma: PrismaClient, rows: unknown[]): Promise<IngestResult> {
  const valid = validateBatch(rows, transactionRow, 'ingestTransactions');
  if (!valid.length) return empty(0);
  return prisma.$transaction((tx) => upsertTransactions(tx, valid), BATCH_TX);
}

export async function upsertTransactions(tx: Tx, rows: TransactionRow[]): Promise<IngestResult> {
  await assertCustomersExist(tx, rows, 'ingestTransactions');
  const json = JSON.stringify(
    rows.map((r) => ({
      external_id: r.externalId,
      customer: r.customerExternalId,
      occurred_at: r.occurredAt.toISOString(),
      amount: r.amount,
      currency: r.currency,
      quantity: r.quantity,
      product_id: r.productId ?? null,
      category: r.category ?? null,
      description: r.description ?? null,
      kind: r.kind,
    })),
  );
  const changed = await tx.$queryRaw<{ inserted: boolean; customer_id: number }[]>`
    insert into transactions (external_id, customer_id, occurred_at, amount, currency, quantity, product_id, category,
      description, kind)
    select r.external_id, c.id, r.occurred_at, r.amount, r.currency, r.quantity, r.product_id, r.category,
      r.description, r.kind::"TransactionKind"
    from jsonb_to_recordset(${json}::jsonb) as r(external_id text, customer text, occurred_at timestamptz,
      amount numeric, currency text, quantity int, product_id text, category text, description text, kind text)
    join customers c on c.external_id = r.customer
    order by r.external_id
    on conflict (external_id) do update set customer_id = excluded.customer_id, occurred_at = excluded.occurred_at,
      amount = excluded.amount, currency = excluded.currency, quantity = excluded.quantity,
      product_id = excluded.product_id, category = excluded.category, description = excluded.description,
      kind = excluded.kind, updated_at = now()
    where (transactions.customer_id, transactions.occurred_at, transactions.amount, transactions.currency,
      transactions.quantity, transactions.product_id, transactions.category, transactions.description, transactions.kind)
      is distinct from (excluded.customer_id, excluded.occurred_at, excluded.amount, excluded.currency,
      excluded.quantity, excluded.product_id, excluded.category, excluded.description, excluded.kind)
    returning (xmax = 0) as inserted, customer_id`;
  await markStale(tx, changed.map((c) => c.customer_id));
  return tally(rows.length, changed);
}

export async function ingestComments(prisma: PrismaClient, rows: unknown[]): Promise<IngestResult & { changedCommentIds: bigint[] }> {
  const valid = validateBatch(rows, commentRow, 'ingestComments');
  if (!valid.length) return { ...empty(0), changedCommentIds: [] };
  return prisma.$transaction((tx) => upsertComments(tx, valid), BATCH_TX);
}

/** Returns the ids of new or re-worded comments: exactly the ones whose embeddings must be (re)computed. */
export async function upsertComments(tx: Tx, rows: CommentRow[]): Promise<IngestResult & { changedCommentIds: bigint[] }> {
  await assertCustomersExist(tx, rows, 'ingestComments');
  const json = JSON.stringify(
    rows.map((r) => ({
      external_id: r.externalId,
      customer: r.customerExternalId,
      created_at: r.createdAt.toISOString(),
      source: r.source,
      language: r.language,
      text: r.text,
      text_hash: crypto.createHash('sha256').update(r.text, 'utf8').digest('hex'),
    })),
  );
  const changed = await tx.$queryRaw<{ inserted: boolean; id: bigint; customer_id: number }[]>`
    insert into comments (external_id, customer_id, created_at, source, language, text, text_hash)
    select r.external_id, c.id, r.created_at, r.source::"CommentSource", r.language, r.text, r.text_hash
    from jsonb_to_recordset(${json}::jsonb) as r(external_id text, customer text, created_at timestamptz, source text,
      language text, text text, text_hash text)
    join customers c on c.external_id = r.customer
    order by r.external_id
    on conflict (external_id) do update set customer_id = excluded.customer_id, created_at = excluded.created_at,
      source = excluded.source, language = excluded.language, text = excluded.text, text_hash = excluded.text_hash,
      updated_at = now()
    where (comments.customer_id, comments.created_at, comments.source, comments.language, comments.text_hash)
      is distinct from (excluded.customer_id, excluded.created_at, excluded.source, excluded.language, excluded.text_hash)
    returning (xmax = 0) as inserted, id, customer_id`;
  await markStale(tx, changed.map((c) => c.customer_id));
  return { ...tally(rows.length, changed), changedCommentIds: changed.map((c) => BigInt(c.id)) };
}

async function assertCustomersExist(tx: Tx, rows: { customerExternalId: string }[], what: string): Promise<void> {
  const ids = [...new Set(rows.map((r) => r.customerExternalId))];
  const found = await tx.$queryRaw<{ external_id: string }[]>`
    select external_id from customers where external_id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`;
  const known = new Set(found.map((f) => f.external_id));
  const issues = rows.flatMap((r, i) =>
    known.has(r.customerExternalId) ? [] : [{ row: i, field: 'customerExternalId', message: `unknown customer "${r.customerExternalId}"` }],
  );
  if (issues.length) throw badInput(`${what}: ${issues.length} row(s) refer to unknown customers; nothing was written`, issues);
}

async function markStale(tx: Tx, customerIds: number[]): Promise<void> {
  const ids = [...new Set(customerIds.map(Number))];
  if (!ids.length) return;
  // Rows locked in id order (and every upsert above inserts in external_id order): concurrent batches that
  // overlap wait for each other instead of deadlocking.
  await tx.$executeRaw`
    update customers set features_stale_at = now()
    where id in (select id from customers where features_stale_at is null
      and id in (select (jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))::int) order by id for no key update)`;
  // Last statement of the batch on purpose: it takes a lock held until commit (see requestFeatureRefresh).
  await requestFeatureRefresh(tx);
}

function tally(received: number, changed: { inserted: boolean }[]): IngestResult {
  const inserted = changed.filter((c) => c.inserted).length;
  const updated = changed.length - inserted;
  return { received, inserted, updated, unchanged: received - changed.length };
}

const empty = (received: number): IngestResult => ({ received, inserted: 0, updated: 0, unchanged: received });
