import { Prisma, type PrismaClient, type Score } from '../generated/prisma/client';
import { CHAMPION_VERSION_ID, idSet } from './champion.sql';

export interface ScoreSqlRow {
  customer_id: number;
  model_version_id: number;
  clv: string;
  p_alive: number | null;
  churn_risk: number | null;
  tier: string | null;
  segment: string | null;
  explanation: unknown;
  scored_at: Date;
}

/**
 * The champion model's score per customer (null when unscored), for many customers in one query. This sits on
 * the hottest read path (dashboards asking one customer's score), so it is a single round trip.
 */
export async function loadLatestScores(prisma: PrismaClient, customerIds: readonly number[]): Promise<(Score | null)[]> {
  if (!customerIds.length) return [];
  const where =
    customerIds.length === 1 ? Prisma.sql`customer_id = ${customerIds[0]}::int` : Prisma.sql`customer_id in ${idSet(customerIds)}`;
  const rows = await prisma.$queryRaw<ScoreSqlRow[]>`
    select customer_id::int as customer_id, model_version_id::int as model_version_id, clv::text as clv, p_alive,
      churn_risk, tier, segment, explanation, scored_at
    from scores where ${where} and model_version_id = ${CHAMPION_VERSION_ID}`;
  const byId = new Map(rows.map((r) => [Number(r.customer_id), toScore(r)]));
  return customerIds.map((id) => byId.get(id) ?? null);
}

export function toScore(r: ScoreSqlRow): Score {
  return {
    customerId: Number(r.customer_id),
    modelVersionId: Number(r.model_version_id),
    clv: new Prisma.Decimal(r.clv),
    pAlive: r.p_alive == null ? null : Number(r.p_alive),
    churnRisk: r.churn_risk == null ? null : Number(r.churn_risk),
    tier: r.tier,
    segment: r.segment,
    explanation: (typeof r.explanation === 'string' ? JSON.parse(r.explanation) : r.explanation) as Prisma.JsonValue,
    scoredAt: new Date(r.scored_at),
  };
}
