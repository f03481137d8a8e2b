import { Prisma } from '../generated/prisma/client';

/**
 * The model version whose scores are "the" scores: the clv-forest champion when one is promoted, else the most
 * recently promoted champion of any kind. A scalar subquery, so it composes into joins and is planned once.
 */
export const CHAMPION_VERSION_ID = Prisma.sql`(select model_version_id from model_champions
  order by (kind = 'clv-forest') desc, promoted_at desc limit 1)`;

/** Customer ids (int) as one JSON parameter, expanded in SQL: one bind value whatever the batch size. */
export function idSet(ids: readonly (number | bigint)[]): Prisma.Sql {
  return Prisma.sql`(select (jsonb_array_elements_text(${JSON.stringify(ids.map(String))}::jsonb))::int)`;
}
