import { Prisma, type Customer, type PrismaClient, type Score } from '../generated/prisma/client';
import { badInput } from '../lib/errors';
import { CHAMPION_VERSION_ID } from './champion.sql';
import { type ScoreSqlRow, toScore } from './latest-score.service';
import { type Page, decodeCursor, encodeCursor, pageSize } from './cursor';

export type CustomerOrderField = 'PREDICTED_CLV' | 'TOTAL_SPEND' | 'RECENCY' | 'ID';
export type SortDirection = 'ASC' | 'DESC';

export interface CustomerFilter {
  tier?: string[] | null;
  segment?: string[] | null;
  predictedClv?: { min?: string | null; max?: string | null } | null;
  churnRisk?: { min?: number | null; max?: number | null } | null;
  region?: string[] | null;
  lastPurchase?: { from?: Date | null; to?: Date | null } | null;
}

export interface ListCustomersArgs {
  filter?: CustomerFilter | null;
  orderBy?: { field: CustomerOrderField; direction?: SortDirection | null } | null;
  first?: number | null;
  after?: string | null;
}

/** One customer by internal id or external id; exactly one must be given. */
export async function findCustomer(
  prisma: PrismaClient,
  by: { id?: string | null; externalId?: string | null },
  /** Receives the champion's score fetched in the same round trip (the hottest dashboard read asks for both). */
  primeScore?: (customerId: number, score: Score | null) => void,
): Promise<Customer | null> {
  if ((by.id == null) === (by.externalId == null)) {
    throw badInput('give exactly one of id or externalId', [{ field: by.id == null ? 'id' : 'externalId', message: 'exactly one of id, externalId' }]);
  }
  if (by.id != null && !/^\d{1,9}$/.test(by.id)) return null;
  const where = by.externalId != null ? Prisma.sql`c.external_id = ${by.externalId}` : Prisma.sql`c.id = ${Number(by.id)}::int`;
  const [row] = await prisma.$queryRaw<(CustomerSqlRow & { s_customer_id: number | null } & ScoreSqlRow)[]>`
    select c.id, c.external_id, c.birth_year, c.gender, c.region, c.signup_date, c.attributes, c.features_stale_at,
      c.created_at, c.updated_at, s.customer_id as s_customer_id, s.customer_id, s.model_version_id::int as model_version_id,
      s.clv::text as clv, s.p_alive, s.churn_risk, s.tier, s.segment, s.explanation, s.scored_at
    from customers c left join scores s on s.customer_id = c.id and s.model_version_id = ${CHAMPION_VERSION_ID}
    where ${where}`;
  if (!row) return null;
  const customer = toCustomer(row);
  primeScore?.(customer.id, row.s_customer_id == null ? null : toScore({ ...row, customer_id: customer.id }));
  return customer;
}

interface CustomerSqlRow {
  id: number;
  external_id: string;
  birth_year: number | null;
  gender: string | null;
  region: string | null;
  signup_date: Date | null;
  attributes: unknown;
  features_stale_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const date = (d: Date | string | null) => (d == null ? null : new Date(d));

function toCustomer(r: CustomerSqlRow): Customer {
  return {
    id: Number(r.id),
    externalId: r.external_id,
    birthYear: r.birth_year == null ? null : Number(r.birth_year),
    gender: r.gender,
    region: r.region,
    signupDate: date(r.signup_date),
    attributes: (typeof r.attributes === 'string' ? JSON.parse(r.attributes) : r.attributes) as Prisma.JsonValue,
    featuresStaleAt: date(r.features_stale_at),
    createdAt: date(r.created_at)!,
    updatedAt: date(r.updated_at)!,
  };
}

// Sort keys are numeric so one keyset comparison works for every ordering; missing values sort lowest.
const NONE = '-1000000000000000';
const SORT_KEY: Record<CustomerOrderField, Prisma.Sql> = {
  PREDICTED_CLV: Prisma.sql`coalesce(s.clv, ${NONE}::numeric)`,
  TOTAL_SPEND: Prisma.sql`coalesce(st.total, 0)`,
  RECENCY: Prisma.sql`coalesce((extract(epoch from st.last) * 1000)::numeric, ${NONE}::numeric)`,
  ID: Prisma.sql`c.id::numeric`,
};

/**
 * Keyset pagination on (sort value, id): a page starts strictly after the previous page's last (value, id), so
 * rows inserted between requests can never shift a page into a gap or a repeat (unlike OFFSET).
 */
export async function listCustomers(prisma: PrismaClient, args: ListCustomersArgs): Promise<Page<Customer>> {
  const first = pageSize(args.first);
  const field = args.orderBy?.field ?? 'ID';
  const dir = args.orderBy?.direction ?? 'DESC';
  const ordering = `${field}:${dir}`;
  const cursor = decodeCursor(args.after, ordering);
  const f = args.filter ?? {};
  const needScore = field === 'PREDICTED_CLV' || !!(f.tier || f.segment || f.predictedClv || f.churnRisk);
  const needStats = field === 'TOTAL_SPEND' || field === 'RECENCY' || !!f.lastPurchase;
  const sk = SORT_KEY[field];

  const conds: Prisma.Sql[] = [Prisma.sql`true`];
  const list = (col: Prisma.Sql, values: string[]) =>
    conds.push(Prisma.sql`${col} in (select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`);
  if (f.tier) list(Prisma.sql`s.tier`, f.tier);
  if (f.segment) list(Prisma.sql`s.segment`, f.segment);
  if (f.region) list(Prisma.sql`c.region`, f.region);
  if (f.predictedClv?.min != null) conds.push(Prisma.sql`s.clv >= ${decimal(f.predictedClv.min, 'filter.predictedClv.min')}::numeric`);
  if (f.predictedClv?.max != null) conds.push(Prisma.sql`s.clv <= ${decimal(f.predictedClv.max, 'filter.predictedClv.max')}::numeric`);
  if (f.churnRisk?.min != null) conds.push(Prisma.sql`s.churn_risk >= ${f.churnRisk.min}`);
  if (f.churnRisk?.max != null) conds.push(Prisma.sql`s.churn_risk <= ${f.churnRisk.max}`);
  if (f.lastPurchase?.from) conds.push(Prisma.sql`st.last >= ${f.lastPurchase.from}`);
  if (f.lastPurchase?.to) conds.push(Prisma.sql`st.last <= ${f.lastPurchase.to}`);
  if (cursor) {
    const v = decimal(cursor.v, 'after');
    conds.push(
      dir === 'ASC'
        ? Prisma.sql`(${sk}, c.id) > (${v}::numeric, ${Number(cursor.id)}::int)`
        : Prisma.sql`(${sk}, c.id) < (${v}::numeric, ${Number(cursor.id)}::int)`,
    );
  }
  const order = dir === 'ASC' ? Prisma.sql`${sk} asc, c.id asc` : Prisma.sql`${sk} desc, c.id desc`;
  const scoreJoin = needScore
    ? Prisma.sql`left join scores s on s.customer_id = c.id and s.model_version_id = ${CHAMPION_VERSION_ID}`
    : Prisma.empty;
  const statsJoin = needStats
    ? Prisma.sql`left join lateral (
        select sum(case when t.kind = 'purchase' then t.amount else -abs(t.amount) end) as total,
          max(t.occurred_at) filter (where t.kind = 'purchase') as last
        from transactions t where t.customer_id = c.id) st on true`
    : Prisma.empty;
  const keys = await prisma.$queryRaw<{ id: number; sk: string }[]>`
    select c.id::int as id, (${sk})::text as sk
    from customers c ${scoreJoin} ${statsJoin}
    where ${Prisma.join(conds, ' and ')}
    order by ${order}
    limit ${first + 1}`;
  const customers = keys.length ? await prisma.customer.findMany({ where: { id: { in: keys.map((k) => Number(k.id)) } } }) : [];
  const byId = new Map(customers.map((c) => [c.id, c]));
  // A customer deleted between the two reads drops out of the page; the cursor still advances past it.
  const rows = keys.slice(0, first).flatMap((k) => {
    const node = byId.get(Number(k.id));
    return node ? [{ cursor: encodeCursor({ o: ordering, v: k.sk, id: String(k.id) }), node }] : [];
  });
  const last = keys.slice(0, first).at(-1);
  return {
    edges: rows,
    nodes: rows.map((r) => r.node),
    pageInfo: {
      hasNextPage: keys.length > first,
      endCursor: last ? encodeCursor({ o: ordering, v: last.sk, id: String(last.id) }) : null,
    },
  };
}

function decimal(v: string, field: string): string {
  const s = String(v).trim();
  if (!/^-?\d{1,20}(\.\d{1,10})?$/.test(s)) throw badInput(`${field} must be a decimal number`, [{ field, message: 'must be a decimal number' }]);
  return s;
}
