import type { PrismaClient } from '../generated/prisma/client';
import { commentRow, customerRow, transactionRow } from '../ingest/ingest.schemas';
import { BATCH_TX, type IngestResult, upsertComments, upsertCustomers, upsertTransactions } from '../ingest/ingest.service';
import { validateBatch } from '../ingest/validate';
import { DomainError, type FieldIssue, badInput } from '../lib/errors';

/** Interactive-transaction limits for a 5,000-row batch on a busy machine (Prisma's default timeout is 5 s). */

/** Customers only: validated as a whole, then upserted in one transaction. */
export async function ingestCustomerBatch(prisma: PrismaClient, rows: unknown[]): Promise<IngestResult> {
  const valid = validateBatch(rows, customerRow, 'ingestCustomers');
  if (!valid.length) return { received: 0, inserted: 0, updated: 0, unchanged: 0 };
  return prisma.$transaction((tx) => upsertCustomers(tx, valid), BATCH_TX);
}

export interface EventsIngestResult extends IngestResult {
  customers: IngestResult | null;
  /** new or re-worded comments (empty for transactions) */
  changedCommentIds: bigint[];
}

/**
 * Transactions or comments plus, optionally, the customers they refer to: both lists are validated before any
 * write (every issue of both reported together; customer-list issues carry field "customers.<field>"), then the
 * customers are upserted first and the events second in ONE transaction, so an event may refer to a customer
 * created by the same call and a failure leaves nothing behind.
 */
export async function ingestEvents(
  prisma: PrismaClient,
  kind: 'transactions' | 'comments',
  rows: unknown[],
  customers?: unknown[] | null,
): Promise<EventsIngestResult> {
  const what = kind === 'transactions' ? 'ingestTransactions' : 'ingestComments';
  const issues: FieldIssue[] = [];
  const collect = <T>(fn: () => T, prefix?: string): T | null => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof DomainError) || e.code !== 'BAD_USER_INPUT') throw e;
      for (const i of e.details?.issues ?? [{ field: 'rows', message: e.message }]) {
        issues.push(prefix ? { ...i, field: `${prefix}.${i.field}` } : i);
      }
      return null;
    }
  };
  const validCustomers = customers ? collect(() => validateBatch(customers, customerRow, `${what}.customers`), 'customers') : [];
  const validRows =
    kind === 'transactions'
      ? collect(() => validateBatch(rows, transactionRow, what))
      : collect(() => validateBatch(rows, commentRow, what));
  if (issues.length || !validCustomers || !validRows) {
    const bad = new Set(issues.map((i) => `${i.field.startsWith('customers.') ? 'c' : 'r'}${i.row}`)).size;
    throw badInput(`${what}: ${bad} invalid row(s); nothing was written`, issues);
  }
  return prisma.$transaction(async (tx) => {
    const c = validCustomers.length ? await upsertCustomers(tx, validCustomers) : null;
    if (!validRows.length) return { received: 0, inserted: 0, updated: 0, unchanged: 0, customers: c, changedCommentIds: [] };
    if (kind === 'transactions') {
      const r = await upsertTransactions(tx, validRows as Parameters<typeof upsertTransactions>[1]);
      return { ...r, customers: c, changedCommentIds: [] };
    }
    const r = await upsertComments(tx, validRows as Parameters<typeof upsertComments>[1]);
    return { ...r, customers: c };
  }, BATCH_TX);
}
