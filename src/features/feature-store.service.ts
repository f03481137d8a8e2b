import type { PrismaClient } from '../generated/prisma/client';
import { DomainError } from '../lib/errors';
import type { History } from '../models/clv/clv-baselines';
import { computeFeatures, type CustomerEvent, FEATURE_NAMES, FEATURE_SET, toRecord } from './features.definitions';
import { loadSemanticFeatures } from './semantic.adapter';

type Db = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$extends'>;

export interface HistoryBatch {
  ids: number[];
  histories: History[];
}

/**
 * Streams customers in id order, `batchSize` at a time, each with its transactions strictly before `before`
 * (one query per batch, ordered by customer then time). The math happens in TypeScript on the result, the same
 * code the evaluation and training use, so stored, trained and served features can never disagree.
 */
export async function* historyBatches(
  db: Db,
  opts: { before: Date; customerIds?: readonly number[]; batchSize?: number },
): AsyncGenerator<HistoryBatch> {
  const size = opts.batchSize ?? 2000;
  if (opts.customerIds) {
    for (let i = 0; i < opts.customerIds.length; i += size) {
      const ids = opts.customerIds.slice(i, i + size);
      const customers = await db.$queryRaw<CustomerRow[]>`
        select id, birth_year, region, signup_date from customers
        where id in (select (jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))::int) order by id`;
      if (customers.length) yield await withEvents(db, customers, opts.before);
    }
    return;
  }
  let after = 0;
  for (;;) {
    const customers = await db.$queryRaw<CustomerRow[]>`
      select id, birth_year, region, signup_date from customers where id > ${after} order by id limit ${size}`;
    if (!customers.length) return;
    after = customers[customers.length - 1]!.id;
    yield await withEvents(db, customers, opts.before);
  }
}

interface CustomerRow {
  id: number;
  birth_year: number | null;
  region: string | null;
  signup_date: Date | null;
}

async function withEvents(db: Db, customers: CustomerRow[], before: Date): Promise<HistoryBatch> {
  const lo = customers[0]!.id;
  const hi = customers[customers.length - 1]!.id;
  const rows = await db.$queryRaw<
    { customer_id: number; at: Date; amount: number; kind: string; product_id: string | null; category: string | null; quantity: number }[]
  >`
    select customer_id, occurred_at as at, amount::float8 as amount, kind::text as kind, product_id, category, quantity
    from transactions where customer_id between ${lo} and ${hi} and occurred_at < ${before.toISOString()}::timestamptz
    order by customer_id, occurred_at`;
  const byId = new Map<number, History>();
  for (const c of customers) {
    byId.set(c.id, {
      key: String(c.id),
      events: [],
      attrs: { birthYear: c.birth_year, region: c.region, signupAt: c.signup_date ? c.signup_date.getTime() : null },
    });
  }
  for (const r of rows) {
    const e: CustomerEvent = {
      at: r.at.getTime(),
      amount: Number(r.amount),
      kind: r.kind === 'refund' ? 'refund' : 'purchase',
      productId: r.product_id,
      category: r.category,
      quantity: r.quantity,
    };
    byId.get(r.customer_id)?.events.push(e);
  }
  return { ids: customers.map((c) => c.id), histories: [...byId.values()] };
}

export interface MaterializeResult {
  customers: number;
  asOf: string;
  semantic: string;
}

/**
 * Computes and stores snapshots. `current: true` replaces each customer's "now" snapshot (one per customer and
 * feature set, enforced by a partial unique index); otherwise the rows are kept for a training cutoff.
 * Idempotent: the same (customer, set, asOf) is upserted, never duplicated.
 */
export async function materializeFeatures(
  db: PrismaClient,
  opts: { asOf: Date; current: boolean; customerIds?: readonly number[]; batchSize?: number; onBatch?: (done: number) => void },
): Promise<MaterializeResult> {
  let done = 0;
  let semanticNote = 'not requested';
  for await (const batch of historyBatches(db, { before: opts.asOf, customerIds: opts.customerIds, batchSize: opts.batchSize })) {
    const semantic = await loadSemanticFeatures(db, { customerIds: batch.ids, asOf: opts.asOf });
    semanticNote = semantic.note;
    const json = JSON.stringify(
      batch.histories.map((h) => ({
        customer_id: Number(h.key),
        values: { ...toRecord(FEATURE_NAMES, computeFeatures(h.events, h.attrs, opts.asOf.getTime())), ...(semantic.values.get(Number(h.key)) ?? {}) },
      })),
    );
    await db.$transaction(async (tx) => {
      if (opts.current) {
        await tx.$executeRaw`
          delete from feature_snapshots where feature_set = ${FEATURE_SET} and is_current
          and customer_id in (select (jsonb_array_elements_text(${JSON.stringify(batch.ids)}::jsonb))::int)`;
      }
      await tx.$executeRaw`
        insert into feature_snapshots (customer_id, feature_set, as_of, is_current, values)
        select r.customer_id, ${FEATURE_SET}, ${opts.asOf.toISOString()}::timestamptz, ${opts.current}, r.values
        from jsonb_to_recordset(${json}::jsonb) as r(customer_id int, values jsonb)
        on conflict (customer_id, feature_set, as_of) do update set values = excluded.values,
          is_current = excluded.is_current, computed_at = now()`;
    });
    done += batch.ids.length;
    opts.onBatch?.(done);
  }
  return { customers: done, asOf: opts.asOf.toISOString(), semantic: semanticNote };
}

/**
 * Recomputes "now" for customers marked stale by ingestion and clears the mark, unless a transaction of theirs
 * changed while we computed (then it stays set for the next run). Returns the refreshed customer ids.
 */
export async function refreshStaleFeatures(db: PrismaClient, opts: { limit?: number } = {}): Promise<number[]> {
  const startedAt = new Date();
  const stale = await db.$queryRaw<{ id: number }[]>`
    select id from customers where features_stale_at is not null order by features_stale_at, id limit ${opts.limit ?? 50_000}`;
  const ids = stale.map((r) => r.id);
  if (!ids.length) return [];
  await materializeFeatures(db, { asOf: startedAt, current: true, customerIds: ids });
  await db.$executeRaw`
    update customers c set features_stale_at = null
    where c.id in (select (jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))::int)
      and not exists (select 1 from transactions t where t.customer_id = c.id and t.updated_at >= ${startedAt.toISOString()}::timestamptz)`;
  return ids;
}

export interface FeatureVector {
  customerId: number;
  asOf: Date;
  featureSet: string;
  values: Record<string, number>;
  stored: boolean;
}

/**
 * "Now" vectors of many customers in one query (the GraphQL DataLoader's batch): the stored current snapshot,
 * or, for customers without one, computed from all their events so far (stored: false). Unknown ids → null.
 */
export async function currentFeatures(db: PrismaClient, customerIds: readonly number[]): Promise<(FeatureVector | null)[]> {
  const snaps = await db.featureSnapshot.findMany({ where: { customerId: { in: [...customerIds] }, featureSet: FEATURE_SET, isCurrent: true } });
  const byId = new Map<number, FeatureVector>(
    snaps.map((s) => [s.customerId, { customerId: s.customerId, asOf: s.asOf, featureSet: s.featureSet, values: s.values as Record<string, number>, stored: true }]),
  );
  const missing = customerIds.filter((id) => !byId.has(id));
  if (missing.length) {
    const asOf = new Date();
    for await (const b of historyBatches(db, { before: asOf, customerIds: missing })) {
      for (const h of b.histories) {
        byId.set(Number(h.key), { customerId: Number(h.key), asOf, featureSet: FEATURE_SET, values: toRecord(FEATURE_NAMES, computeFeatures(h.events, h.attrs, asOf.getTime())), stored: false });
      }
    }
  }
  return customerIds.map((id) => byId.get(id) ?? null);
}

/** Stored "now" snapshot when asOf is omitted; a stored snapshot at exactly asOf, else computed on the fly. */
export async function customerFeatures(db: PrismaClient, q: { externalId?: string; customerId?: number; asOf?: Date | null }): Promise<FeatureVector> {
  const c = q.customerId
    ? await db.customer.findUnique({ where: { id: q.customerId }, select: { id: true } })
    : await db.customer.findUnique({ where: { externalId: q.externalId ?? '' }, select: { id: true } });
  if (!c) throw new DomainError('NOT_FOUND', `customer ${q.externalId ?? q.customerId} not found`);
  const snap = await db.featureSnapshot.findFirst({
    where: q.asOf ? { customerId: c.id, featureSet: FEATURE_SET, asOf: q.asOf } : { customerId: c.id, featureSet: FEATURE_SET, isCurrent: true },
  });
  if (snap) return { customerId: c.id, asOf: snap.asOf, featureSet: snap.featureSet, values: snap.values as Record<string, number>, stored: true };
  const asOf = q.asOf ?? new Date();
  for await (const b of historyBatches(db, { before: asOf, customerIds: [c.id] })) {
    const h = b.histories[0]!;
    return { customerId: c.id, asOf, featureSet: FEATURE_SET, values: toRecord(FEATURE_NAMES, computeFeatures(h.events, h.attrs, asOf.getTime())), stored: false };
  }
  throw new DomainError('NOT_FOUND', `customer ${c.id} not found`);
}
