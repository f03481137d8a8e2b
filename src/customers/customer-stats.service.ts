import type { PrismaClient } from '../generated/prisma/client';
import { idSet } from './champion.sql';

/** Purchase statistics of one customer; decimals stay strings so totals never pass through floats. */
export interface CustomerStatsRow {
  firstPurchaseAt: Date | null;
  lastPurchaseAt: Date | null;
  orderCount: number;
  refundCount: number;
  totalSpend: string;
  averageOrderValue: string | null;
}

const EMPTY: CustomerStatsRow = {
  firstPurchaseAt: null,
  lastPurchaseAt: null,
  orderCount: 0,
  refundCount: 0,
  totalSpend: '0',
  averageOrderValue: null,
};

/** Stats for many customers in one grouped query (the DataLoader batch function). */
export async function loadCustomerStats(prisma: PrismaClient, customerIds: readonly number[]): Promise<CustomerStatsRow[]> {
  if (!customerIds.length) return [];
  // Refunds may be recorded with either sign; they always reduce the spend by their absolute amount.
  const rows = await prisma.$queryRaw<
    { customer_id: number; first: Date | null; last: Date | null; orders: bigint; refunds: bigint; total: string; aov: string | null }[]
  >`
    select customer_id::int as customer_id,
      min(occurred_at) filter (where kind = 'purchase') as first,
      max(occurred_at) filter (where kind = 'purchase') as last,
      count(*) filter (where kind = 'purchase') as orders,
      count(*) filter (where kind = 'refund') as refunds,
      coalesce(sum(case when kind = 'purchase' then amount else -abs(amount) end), 0)::text as total,
      round(sum(case when kind = 'purchase' then amount else -abs(amount) end)
        / nullif(count(*) filter (where kind = 'purchase'), 0), 4)::text as aov
    from transactions where customer_id in ${idSet(customerIds)}
    group by customer_id`;
  const byId = new Map(rows.map((r) => [Number(r.customer_id), r]));
  return customerIds.map((id) => {
    const r = byId.get(id);
    if (!r) return EMPTY;
    return {
      firstPurchaseAt: r.first ? new Date(r.first) : null,
      lastPurchaseAt: r.last ? new Date(r.last) : null,
      orderCount: Number(r.orders),
      refundCount: Number(r.refunds),
      totalSpend: r.total,
      averageOrderValue: r.aov,
    };
  });
}
