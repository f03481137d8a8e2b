import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { vectorLiteral } from '../db/vector';
import { recencyWeights } from './profile';
import { weightedMean } from './vector-math';

type Db = Pick<PrismaClient, '$queryRaw' | '$executeRaw'>;

/** A customer's dated vectors of one kind (comments or searches), oldest first. */
export type DatedVectors = Map<number, { at: Date; vector: number[] }[]>;

/** The two profile tables: the same shape, one per kind of text. Identifiers are constants, never input. */
const TABLES = {
  comments: { table: 'customer_profile_embeddings', count: 'comment_count' },
  searches: { table: 'customer_search_profile_embeddings', count: 'search_count' },
} as const;

export interface WriteProfilesOptions {
  model: string;
  dim: number;
  halfLifeDays: number;
  customerIds: number[];
  chunkSize?: number;
}

/**
 * (Re)writes the profiles of `customerIds` in chunks: each customer's vectors (from `vectorsOf`) averaged with
 * recency weights. A profile that comes out the same is left alone (no write, no new updated_at), so a refresh after
 * an unchanged re-import costs reads only. Customers without vectors are skipped; the count of rows written returns.
 */
export async function writeProfiles(
  db: Db,
  kind: keyof typeof TABLES,
  o: WriteProfilesOptions,
  vectorsOf: (customerIds: number[]) => Promise<DatedVectors>,
): Promise<number> {
  const t = Prisma.raw(TABLES[kind].table);
  const n = Prisma.raw(TABLES[kind].count);
  const chunk = o.chunkSize ?? 500;
  let written = 0;
  for (let i = 0; i < o.customerIds.length; i += chunk) {
    const vecs = await vectorsOf(o.customerIds.slice(i, i + chunk));
    const rows = [...vecs].map(([customerId, list]) => ({
      customer_id: customerId,
      embedding: vectorLiteral(weightedMean(list.map((l) => l.vector), recencyWeights(list.map((l) => l.at), o.halfLifeDays), o.dim)),
      n: list.length,
    }));
    if (!rows.length) continue;
    written += await db.$executeRaw`
      insert into ${t} (customer_id, model, dim, embedding, ${n}, half_life_days, updated_at)
      select r.customer_id, ${o.model}, ${o.dim}, r.embedding::vector, r.n, ${o.halfLifeDays}, now()
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(customer_id int, embedding text, n int)
      on conflict (customer_id, model) do update set dim = excluded.dim, embedding = excluded.embedding,
        ${n} = excluded.${n}, half_life_days = excluded.half_life_days, updated_at = now()
      where (${t}.dim, ${t}.${n}, ${t}.half_life_days, ${t}.embedding::text)
        is distinct from (excluded.dim, excluded.${n}, excluded.half_life_days, excluded.embedding::text)`;
  }
  return written;
}
