import { Prisma, type Comment, type PrismaClient, type Transaction } from '../generated/prisma/client';
import { type Page, decodeCursor, encodeCursor, pageSize, toPage } from './cursor';
import { badInput } from '../lib/errors';
import { idSet } from './champion.sql';

/** One customer's page request; the DataLoader batches many of them into one query per (first, after). */
export interface HistoryKey {
  customerId: number;
  first?: number | null;
  after?: string | null;
}

const TX_ORDER = 'tx:occurredAt:DESC';
const COMMENT_ORDER = 'comment:createdAt:DESC';

/** Most recent first, keyset on (occurred_at, id) so inserts between pages cause no gaps or repeats. */
export async function loadTransactionPages(prisma: PrismaClient, keys: readonly HistoryKey[]): Promise<Page<Transaction>[]> {
  return loadPages(keys, TX_ORDER, async (ids, first, cursor) => {
    const after = cursor
      ? Prisma.sql`and (occurred_at, id) < (${new Date(cursor.v)}::timestamptz, ${cursor.id}::bigint)`
      : Prisma.empty;
    const picked = await prisma.$queryRaw<{ id: bigint }[]>`
      select id from (
        select id, row_number() over (partition by customer_id order by occurred_at desc, id desc) as rn
        from transactions where customer_id in ${idSet(ids)} ${after}) x
      where rn <= ${first + 1}`;
    if (!picked.length) return [];
    return prisma.transaction.findMany({
      where: { id: { in: picked.map((p) => BigInt(p.id)) } },
      orderBy: [{ occurredAt: 'desc' }, { id: 'desc' }],
    });
  }, (t) => ({ customerId: t.customerId, at: t.occurredAt, id: t.id }));
}

export async function loadCommentPages(prisma: PrismaClient, keys: readonly HistoryKey[]): Promise<Page<Comment>[]> {
  return loadPages(keys, COMMENT_ORDER, async (ids, first, cursor) => {
    const after = cursor
      ? Prisma.sql`and (created_at, id) < (${new Date(cursor.v)}::timestamptz, ${cursor.id}::bigint)`
      : Prisma.empty;
    const picked = await prisma.$queryRaw<{ id: bigint }[]>`
      select id from (
        select id, row_number() over (partition by customer_id order by created_at desc, id desc) as rn
        from comments where customer_id in ${idSet(ids)} ${after}) x
      where rn <= ${first + 1}`;
    if (!picked.length) return [];
    return prisma.comment.findMany({
      where: { id: { in: picked.map((p) => BigInt(p.id)) } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
  }, (c) => ({ customerId: c.customerId, at: c.createdAt, id: c.id }));
}

type Fetch<T> = (customerIds: number[], first: number, cursor: { v: string; id: string } | null) => Promise<T[]>;

async function loadPages<T>(
  keys: readonly HistoryKey[],
  ordering: string,
  fetch: Fetch<T>,
  keyOf: (row: T) => { customerId: number; at: Date; id: bigint },
): Promise<Page<T>[]> {
  // Requests with the same (first, after) share one query: the common case is every customer of a list page.
  const groups = new Map<string, { first: number; after: string | null; ids: Set<number> }>();
  const norm = keys.map((k) => ({ first: pageSize(k.first), after: k.after ?? null, customerId: k.customerId }));
  for (const k of norm) {
    const g = `${k.first}|${k.after ?? ''}`;
    if (!groups.has(g)) groups.set(g, { first: k.first, after: k.after, ids: new Set() });
    groups.get(g)!.ids.add(k.customerId);
  }
  const results = new Map<string, T[]>();
  for (const [g, { first, after, ids }] of groups) {
    const cursor = decodeCursor(after, ordering);
    if (cursor && Number.isNaN(Date.parse(cursor.v))) throw badInput('invalid cursor', [{ field: 'after', message: 'is not a cursor of this list' }]);
    const rows = first === 0 && !cursor ? [] : await fetch([...ids], first, cursor);
    for (const row of rows) {
      const key = `${g}#${keyOf(row).customerId}`;
      if (!results.has(key)) results.set(key, []);
      results.get(key)!.push(row);
    }
  }
  const cursorOf = (row: T) => {
    const k = keyOf(row);
    return encodeCursor({ o: ordering, v: k.at.toISOString(), id: String(k.id) });
  };
  return norm.map((k) => toPage(results.get(`${k.first}|${k.after ?? ''}#${k.customerId}`) ?? [], k.first, cursorOf));
}
