import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { castVector, dimSql, vectorParam } from '../db/vector';
import type { EmbeddingProvider } from '../embeddings/embedding.types';
import { DomainError } from '../lib/errors';

type Db = Pick<PrismaClient, '$queryRaw' | '$transaction'>;
type Tx = Pick<PrismaClient, '$queryRaw' | '$executeRawUnsafe'>;

export interface CommentHit {
  commentId: string;
  customerId: number;
  customerExternalId: string;
  externalId: string;
  text: string;
  createdAt: Date;
  similarity: number;
}

export interface CustomerHit {
  customerId: number;
  externalId: string;
  commentCount: number;
  similarity: number;
}

export interface CommentFilter {
  customerExternalId?: string;
  source?: string;
  createdAfter?: Date;
  createdBefore?: Date;
}

const MAX_K = 200;

async function queryVector(provider: EmbeddingProvider, text: string, k: number): Promise<Float32Array> {
  if (!text.trim()) throw new DomainError('BAD_USER_INPUT', 'search text is empty', { issues: [{ field: 'text', message: 'must not be empty' }] });
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw new DomainError('BAD_USER_INPUT', `k must be between 1 and ${MAX_K}`, { issues: [{ field: 'k', message: `between 1 and ${MAX_K}` }] });
  }
  const [v] = await provider.embed([text]);
  return v!;
}

/**
 * An HNSW scan yields at most hnsw.ef_search rows (default 40); raise it, for this transaction only, to the number
 * of candidates we ask for, so a large k or a filter applied after the scan still gets enough rows.
 */
async function withCandidates<T>(db: Db, candidates: number, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const ef = Math.min(1000, Math.max(40, Math.ceil(candidates)));
  return db.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(`set local hnsw.ef_search = ${ef}`);
    // pgvector 0.8: keep scanning the graph while filters (other models sharing the index, customer filters)
    // discard candidates, instead of returning fewer than asked.
    await tx.$executeRawUnsafe(`set local hnsw.iterative_scan = strict_order`);
    return fn(tx);
  });
}

/**
 * Comments nearest to the text by cosine similarity, through the HNSW index of (model, dim). Filters are applied
 * to the 20·k nearest candidates (approximate: a very selective filter can return fewer than k hits); comments
 * whose vector is stale (text changed since it was embedded) are excluded.
 */
export async function searchComments(db: Db, provider: EmbeddingProvider, text: string, k: number, filter: CommentFilter = {}): Promise<CommentHit[]> {
  const v = await queryVector(provider, text, k);
  const q = commentSearchSql(v, provider.model, provider.dim, k, filter);
  const rows = await withCandidates(db, q.candidates, (tx) =>
    tx.$queryRaw<{ id: bigint; customer_id: number; cext: string; external_id: string; text: string; created_at: Date; distance: number }[]>(q.sql),
  );
  return rows.map((r) => ({
    commentId: String(r.id),
    customerId: Number(r.customer_id),
    customerExternalId: r.cext,
    externalId: r.external_id,
    text: r.text,
    createdAt: new Date(r.created_at),
    similarity: 1 - Number(r.distance),
  }));
}

/** Customers whose profile vector is nearest to the text ("customers who complain about late delivery"). */
export async function searchCustomers(db: Db, provider: EmbeddingProvider, text: string, k: number): Promise<CustomerHit[]> {
  const v = await queryVector(provider, text, k);
  const { model, dim } = provider;
  const rows = await withCandidates(db, k, (tx) => tx.$queryRaw<{ customer_id: number; external_id: string; comment_count: number; distance: number }[]>`
    select p.customer_id, cu.external_id, p.comment_count, p.distance
    from (
      select customer_id, comment_count, ${castVector('embedding', dim)} <=> ${vectorParam(v, dim)} as distance
      from customer_profile_embeddings
      where dim = ${dimSql(dim)} and model = ${model}
      order by distance limit ${k}
    ) p join customers cu on cu.id = p.customer_id
    order by p.distance`);
  return rows.map((r) => ({
    customerId: Number(r.customer_id),
    externalId: r.external_id,
    commentCount: Number(r.comment_count),
    similarity: 1 - Number(r.distance),
  }));
}

/** The top-k comment query; exported so tests can check its plan uses the HNSW index. */
export function commentSearchSql(v: ArrayLike<number>, model: string, dim: number, k: number, filter: CommentFilter = {}): { sql: Prisma.Sql; candidates: number } {
  const where: Prisma.Sql[] = [];
  if (filter.customerExternalId) where.push(Prisma.sql`cu.external_id = ${filter.customerExternalId}`);
  if (filter.source) where.push(Prisma.sql`c.source::text = ${filter.source}`);
  if (filter.createdAfter) where.push(Prisma.sql`c.created_at >= ${filter.createdAfter}`);
  if (filter.createdBefore) where.push(Prisma.sql`c.created_at < ${filter.createdBefore}`);
  const extra = where.length ? Prisma.sql`and ${Prisma.join(where, ' and ')}` : Prisma.empty;
  const candidates = where.length ? Math.min(MAX_K * 5, k * 20) : k;
  const sql = Prisma.sql`
    select c.id, c.customer_id, cu.external_id as cext, c.external_id, c.text, c.created_at, n.distance
    from (
      select e.comment_id, e.text_hash, ${castVector('e.embedding', dim)} <=> ${vectorParam(v, dim)} as distance
      from comment_embeddings e
      where e.dim = ${dimSql(dim)} and e.model = ${model}
      order by distance limit ${candidates}
    ) n
    join comments c on c.id = n.comment_id and c.text_hash = n.text_hash
    join customers cu on cu.id = c.customer_id
    where true ${extra}
    order by n.distance limit ${k}`;
  return { sql, candidates };
}
