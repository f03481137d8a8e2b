import { Prisma, type Customer, type PrismaClient } from '../generated/prisma/client';
import { idSet } from '../customers/champion.sql';
import { type Page, decodeCursor, encodeCursor, pageSize } from '../customers/cursor';
import { badInput } from '../lib/errors';
import { TIER_NAMES } from '../models/scoring/tiers';
import { CHURN_BAND_NAMES } from './churn-bands';
import { RFM_SEGMENTS } from './rfm';
import { CURRENT_RUN_ID, SEGMENT_KINDS, type SegmentKindName } from './scoring-runs.service';

/** GraphQL enum values (VALUE_TIER, ...) ↔ stored kinds (value_tier, ...). */
export type SegmentKind = 'VALUE_TIER' | 'RFM' | 'CHURN_RISK';
export const kindName = (k: SegmentKind): SegmentKindName => {
  const name = k.toLowerCase() as SegmentKindName;
  if (!SEGMENT_KINDS.includes(name)) throw badInput(`unknown segment kind ${k}`, [{ field: 'kind', message: 'VALUE_TIER | RFM | CHURN_RISK' }]);
  return name;
};
export const kindEnum = (k: string): SegmentKind => k.toUpperCase() as SegmentKind;

/** Segment names of each kind in rule order (the order segments(kind) lists them). */
export const SEGMENT_NAMES: Record<SegmentKindName, readonly string[]> = {
  value_tier: TIER_NAMES,
  rfm: RFM_SEGMENTS,
  churn_risk: CHURN_BAND_NAMES,
};

export interface SegmentRow {
  runId: number;
  modelVersionId: number;
  kind: SegmentKind;
  name: string;
  customerCount: number;
  share: number;
  predictedValue: string;
  averagePredictedValue: string;
  historicalValue: string;
  valueShare: number;
  averageChurnRisk: number | null;
}

interface RunRow {
  id: number;
  model_version_id: number;
  customer_count: number;
  total: string;
}

/** The current run with the total predicted value of its customers, or null before any completed run. */
async function currentRun(db: PrismaClient): Promise<RunRow | null> {
  const [run] = await db.$queryRaw<RunRow[]>`
    select r.id::int as id, r.model_version_id::int as model_version_id, r.customer_count::int as customer_count,
      coalesce((select sum(s.clv) from customer_segments cs
        join scores s on s.customer_id = cs.customer_id and s.model_version_id = r.model_version_id
        where cs.scoring_run_id = r.id and cs.kind = 'value_tier'), 0)::text as total
    from scoring_runs r where r.id = ${CURRENT_RUN_ID}`;
  return run ?? null;
}

/**
 * Size, value and churn risk of each segment of `kind` in the current run (or just `name`). Every name of the
 * kind is listed, empty ones with zeros, so dashboards get a stable set. Historical value is net spend to date.
 */
export async function listSegments(db: PrismaClient, kind: SegmentKind, name?: string): Promise<SegmentRow[]> {
  const k = kindName(kind);
  const names = SEGMENT_NAMES[k].filter((n) => name === undefined || n === name);
  if (!names.length) return [];
  const run = await currentRun(db);
  if (!run) return [];
  const only = name === undefined ? Prisma.empty : Prisma.sql`and cs.name = ${name}`;
  const groups = await db.$queryRaw<{ name: string; n: number; clv: string; avg: string; spend: string; churn: number | null }[]>`
    with m as (
      select cs.customer_id, cs.name, s.clv, s.churn_risk
      from customer_segments cs join scores s on s.customer_id = cs.customer_id and s.model_version_id = ${run.model_version_id}
      where cs.scoring_run_id = ${run.id} and cs.kind = ${k} ${only}
    ), h as (
      select t.customer_id, sum(case when t.kind = 'purchase' then t.amount else -abs(t.amount) end) as spend
      from transactions t where t.customer_id in (select customer_id from m) group by t.customer_id
    )
    select m.name, count(*)::int as n, sum(m.clv)::text as clv, round(avg(m.clv), 4)::text as avg,
      coalesce(sum(h.spend), 0)::text as spend, avg(m.churn_risk)::float8 as churn
    from m left join h on h.customer_id = m.customer_id group by m.name`;
  const byName = new Map(groups.map((g) => [g.name, g]));
  const total = Number(run.total);
  return names.map((n) => {
    const g = byName.get(n);
    const count = g ? Number(g.n) : 0;
    return {
      runId: run.id,
      modelVersionId: run.model_version_id,
      kind,
      name: n,
      customerCount: count,
      share: run.customer_count > 0 ? count / run.customer_count : 0,
      predictedValue: g?.clv ?? '0',
      averagePredictedValue: g?.avg ?? '0',
      historicalValue: g?.spend ?? '0',
      valueShare: total > 0 && g ? Number(g.clv) / total : 0,
      averageChurnRisk: g?.churn == null ? null : Number(g.churn),
    };
  });
}

export async function getSegment(db: PrismaClient, kind: SegmentKind, name: string): Promise<SegmentRow | null> {
  return (await listSegments(db, kind, name))[0] ?? null;
}

/**
 * A segment's customers, highest predicted CLV first, keyset-paginated on (clv, id). The cursor is tied to the
 * run it came from: once a newer run completes, an old cursor is refused rather than silently mixing two runs.
 */
export async function segmentCustomers(
  db: PrismaClient,
  seg: Pick<SegmentRow, 'runId' | 'modelVersionId' | 'kind' | 'name'>,
  args: { first?: number | null; after?: string | null },
): Promise<Page<Customer>> {
  const first = pageSize(args.first);
  const ordering = `segment:${seg.runId}:${kindName(seg.kind)}:${seg.name}`;
  const cursor = decodeCursor(args.after, ordering);
  const after = cursor
    ? Prisma.sql`and (s.clv, cs.customer_id) < (${decimal(cursor.v)}::numeric, ${Number(cursor.id)}::int)`
    : Prisma.empty;
  const keys = await db.$queryRaw<{ id: number; sk: string }[]>`
    select cs.customer_id::int as id, s.clv::text as sk
    from customer_segments cs join scores s on s.customer_id = cs.customer_id and s.model_version_id = ${seg.modelVersionId}
    where cs.scoring_run_id = ${seg.runId} and cs.kind = ${kindName(seg.kind)} and cs.name = ${seg.name} ${after}
    order by s.clv desc, cs.customer_id desc
    limit ${first + 1}`;
  const page = keys.slice(0, first);
  const customers = page.length ? await db.customer.findMany({ where: { id: { in: page.map((k) => Number(k.id)) } } }) : [];
  const byId = new Map(customers.map((c) => [c.id, c]));
  const edges = page.flatMap((k) => {
    const node = byId.get(Number(k.id));
    return node ? [{ cursor: encodeCursor({ o: ordering, v: k.sk, id: String(k.id) }), node }] : [];
  });
  const last = page.at(-1);
  return {
    edges,
    nodes: edges.map((e) => e.node),
    pageInfo: { hasNextPage: keys.length > first, endCursor: last ? encodeCursor({ o: ordering, v: last.sk, id: String(last.id) }) : null },
  };
}

export interface SegmentAssignment {
  kind: SegmentKind;
  name: string;
}

/** Current-run segments of many customers in one query (a DataLoader batch), kinds in a fixed order. */
export async function loadCustomerSegments(db: PrismaClient, customerIds: readonly number[]): Promise<SegmentAssignment[][]> {
  if (!customerIds.length) return [];
  const rows = await db.$queryRaw<{ customer_id: number; kind: string; name: string }[]>`
    select customer_id::int as customer_id, kind, name from customer_segments
    where scoring_run_id = ${CURRENT_RUN_ID} and customer_id in ${idSet(customerIds)}`;
  const order = (k: string) => SEGMENT_KINDS.indexOf(k as SegmentKindName);
  const by = new Map<number, SegmentAssignment[]>();
  for (const r of [...rows].sort((a, b) => order(a.kind) - order(b.kind))) {
    const id = Number(r.customer_id);
    by.set(id, [...(by.get(id) ?? []), { kind: kindEnum(r.kind), name: r.name }]);
  }
  return customerIds.map((id) => by.get(id) ?? []);
}

function decimal(v: string): string {
  if (!/^-?\d{1,20}(\.\d{1,10})?$/.test(v)) throw badInput('invalid cursor', [{ field: 'after', message: 'is not a cursor returned by this query' }]);
  return v;
}
