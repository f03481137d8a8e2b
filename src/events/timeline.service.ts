import { Prisma, type Comment, type PrismaClient, type Transaction } from '../generated/prisma/client';
import { type Page, decodeCursor, encodeCursor, pageSize, toPage } from '../customers/cursor';
import { badInput } from '../lib/errors';
import type { EventType } from './events.schemas';

export type TimelineKind = 'transaction' | 'comment' | 'event';
export const TIMELINE_KINDS: readonly TimelineKind[] = ['transaction', 'comment', 'event'];

/** The GraphQL Event shape (no mapper: ids as strings). */
export interface EventNode {
  id: string;
  externalId: string;
  occurredAt: Date;
  type: EventType;
  productId: string | null;
  category: string | null;
  text: string | null;
  properties: unknown;
}

export interface TimelineItem {
  occurredAt: Date;
  kind: TimelineKind;
  node: Transaction | Comment | EventNode;
}

const ORDERING = 'timeline:at:DESC';
/** Tie-break between sources at the same millisecond; part of the sort key, so pages stay stable. */
const RANK: Record<TimelineKind, number> = { transaction: 3, comment: 2, event: 1 };
const KIND_OF_RANK = new Map(Object.entries(RANK).map(([k, r]) => [r, k as TimelineKind]));
const SOURCES: Record<TimelineKind, { table: string; time: string }> = {
  transaction: { table: 'transactions', time: 'occurred_at' },
  comment: { table: 'comments', time: 'created_at' },
  event: { table: 'events', time: 'occurred_at' },
};

interface Key {
  rank: number;
  id: bigint;
  at: Date;
}

export interface TimelineKey {
  customerId: number;
  first?: number | null;
  after?: string | null;
  kinds?: readonly TimelineKind[] | null;
}

/** One customer's page (see loadTimelinePages). */
export async function customerTimeline(
  prisma: PrismaClient,
  customerId: number,
  args: Omit<TimelineKey, 'customerId'>,
): Promise<Page<TimelineItem>> {
  return (await loadTimelinePages(prisma, [{ customerId, ...args }]))[0]!;
}

/**
 * Transactions, comments and events of each requested customer, most recent first, keyset on (time, source rank,
 * id). Requests with the same (first, after, kinds) share one query (a list page asking every customer's
 * timeline costs a handful of queries): per customer (LATERAL), each source contributes its own first+1 rows after
 * the cursor through its (customer_id, time) index, the merge keeps the first+1 overall, and only the rows kept
 * are then loaded in full.
 */
export async function loadTimelinePages(prisma: PrismaClient, requests: readonly TimelineKey[]): Promise<Page<TimelineItem>[]> {
  const norm = requests.map((r) => {
    const kinds = TIMELINE_KINDS.filter((k) => !r.kinds?.length || r.kinds.includes(k));
    return { customerId: r.customerId, first: pageSize(r.first), after: r.after ?? null, kinds, group: `${pageSize(r.first)}|${r.after ?? ''}|${kinds.join(',')}` };
  });
  const groups = new Map<string, (typeof norm)[number] & { ids: Set<number> }>();
  for (const r of norm) {
    if (!groups.has(r.group)) groups.set(r.group, { ...r, ids: new Set() });
    groups.get(r.group)!.ids.add(r.customerId);
  }
  const picked = new Map<string, (Key & { customerId: number })[]>();
  for (const [g, q] of groups) {
    const cursor = parseCursor(q.after);
    if (q.first === 0) continue;
    for (const k of await pickKeys(prisma, [...q.ids], q.first + 1, cursor, q.kinds)) {
      const key = `${g}#${k.customerId}`;
      if (!picked.has(key)) picked.set(key, []);
      picked.get(key)!.push(k);
    }
  }
  const nodes = await loadNodes(prisma, [...picked.values()].flat());
  return norm.map((r) => {
    // A row deleted between the two queries is skipped rather than failing the page.
    const rows = (picked.get(`${r.group}#${r.customerId}`) ?? []).flatMap((k) => {
      const node = nodes.get(`${k.rank}:${k.id}`);
      return node ? [{ key: k, item: { occurredAt: k.at, kind: KIND_OF_RANK.get(k.rank)!, node } }] : [];
    });
    const page = toPage(rows, r.first, (x) => cursorOf(x.key));
    return { ...page, edges: page.edges.map((e) => ({ cursor: e.cursor, node: e.node.item })), nodes: page.nodes.map((x) => x.item) };
  });
}

async function pickKeys(prisma: PrismaClient, customerIds: number[], n: number, cursor: Key | null, kinds: readonly TimelineKind[]) {
  const part = (kind: TimelineKind) => {
    const { table, time } = SOURCES[kind];
    const r = RANK[kind];
    const after = cursor
      ? Prisma.sql`and ${Prisma.raw(time)} <= ${cursor.at.toISOString()}::timestamptz
          and (${Prisma.raw(time)}, ${r}::int, id) < (${cursor.at.toISOString()}::timestamptz, ${cursor.rank}::int, ${cursor.id}::bigint)`
      : Prisma.empty;
    return Prisma.sql`(select ${r}::int as rank, id, ${Prisma.raw(time)} as at from ${Prisma.raw(table)}
      where customer_id = c.id ${after} order by ${Prisma.raw(time)} desc, id desc limit ${n})`;
  };
  const rows = await prisma.$queryRaw<{ customer_id: number; rank: number; id: bigint; at: Date }[]>`
    select c.id as customer_id, t.rank, t.id, t.at
    from (select (jsonb_array_elements_text(${JSON.stringify(customerIds)}::jsonb))::int as id) c
    cross join lateral (
      select rank, id, at from (${Prisma.join(kinds.map(part), ' union all ')}) u
      order by at desc, rank desc, id desc limit ${n}) t
    order by c.id, t.at desc, t.rank desc, t.id desc`;
  return rows.map((k) => ({ customerId: Number(k.customer_id), rank: Number(k.rank), id: BigInt(k.id), at: new Date(k.at) }));
}

async function loadNodes(prisma: PrismaClient, keys: readonly Key[]): Promise<Map<string, TimelineItem['node']>> {
  const ids = (rank: number) => [...new Set(keys.filter((k) => k.rank === rank).map((k) => k.id))];
  const [txs, comments, events] = await Promise.all([
    ids(RANK.transaction).length ? prisma.transaction.findMany({ where: { id: { in: ids(RANK.transaction) } } }) : [],
    ids(RANK.comment).length ? prisma.comment.findMany({ where: { id: { in: ids(RANK.comment) } } }) : [],
    ids(RANK.event).length ? prisma.event.findMany({ where: { id: { in: ids(RANK.event) } } }) : [],
  ]);
  const byKey = new Map<string, TimelineItem['node']>();
  for (const t of txs) byKey.set(`${RANK.transaction}:${t.id}`, t);
  for (const c of comments) byKey.set(`${RANK.comment}:${c.id}`, c);
  for (const e of events) {
    byKey.set(`${RANK.event}:${e.id}`, {
      id: String(e.id),
      externalId: e.externalId,
      occurredAt: e.occurredAt,
      type: e.type,
      productId: e.productId,
      category: e.category,
      text: e.text,
      properties: e.properties,
    });
  }
  return byKey;
}

function cursorOf(k: Key): string {
  return encodeCursor({ o: ORDERING, v: `${k.at.toISOString()}|${k.rank}`, id: String(k.id) });
}

function parseCursor(raw: string | null | undefined): Key | null {
  const c = decodeCursor(raw, ORDERING);
  if (!c) return null;
  const m = /^(.+)\|([123])$/.exec(c.v);
  const at = m ? new Date(m[1]!) : null;
  if (!m || !at || Number.isNaN(at.getTime())) throw badInput('invalid cursor', [{ field: 'after', message: 'is not a cursor of this list' }]);
  return { at, rank: Number(m[2]), id: BigInt(c.id) };
}
