import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { dimSql, parseVector, vectorLiteral } from '../db/vector';
import type { EmbeddingProvider } from './embedding.types';
import { recencyWeights } from './profile';
import { weightedMean } from './vector-math';
import { writeProfiles } from './profile-store';

type Db = Pick<PrismaClient, '$queryRaw' | '$executeRaw'>;

export interface EmbedCommentsOptions {
  /** Only these comments (still skipped when their vector is current). Unset: every comment missing one. */
  commentIds?: bigint[];
  /** Keyset cursor: only comments with a larger id (a backfill resumes from here). */
  afterId?: bigint;
  /** Comments per committed chunk. */
  chunkSize?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
  /** Called after each committed chunk with the last comment id it covered (a resumable cursor). */
  onChunk?: (info: { lastId: bigint; embedded: number }) => void;
}

export interface EmbedCommentsResult {
  embedded: number;
  chunks: number;
  lastId: string | null;
  customerIds: number[];
}

/** Comments lacking a current vector for (model, dim): none yet, or computed from another text_hash. */
function pendingWhere(model: string, dim: number, afterId: bigint, ids?: bigint[]): Prisma.Sql {
  const idFilter = ids
    ? Prisma.sql`and c.id in (select (jsonb_array_elements_text(${JSON.stringify(ids.map(String))}::jsonb))::bigint)`
    : Prisma.empty;
  return Prisma.sql`
    from comments c
    left join comment_embeddings e on e.comment_id = c.id and e.model = ${model}
    where c.id > ${afterId} ${idFilter}
      and (e.comment_id is null or e.text_hash <> c.text_hash or e.dim <> ${dim})`;
}

/**
 * Embeds pending comments in chunks, each chunk one committed upsert keyed by (comment_id, model). Idempotent
 * (a current vector is never rewritten) and resumable (the pending set is the source of truth, so a re-run after
 * a crash continues where the last committed chunk ended, without duplicates).
 */
export async function embedPendingComments(db: Db, provider: EmbeddingProvider, opts: EmbedCommentsOptions = {}): Promise<EmbedCommentsResult> {
  const { model, dim } = provider;
  const chunkSize = opts.chunkSize ?? 256;
  let afterId = opts.afterId ?? 0n;
  const [count] = await db.$queryRaw<{ n: bigint }[]>`select count(*)::bigint as n ${pendingWhere(model, dim, afterId, opts.commentIds)}`;
  const total = Number(count?.n ?? 0);
  const customers = new Set<number>();
  let embedded = 0;
  let chunks = 0;
  opts.onProgress?.(0, `${total} comments to embed with ${model}`);
  for (;;) {
    if (opts.signal?.aborted) throw new Error('embedding aborted by shutdown; the next run resumes');
    const rows = await db.$queryRaw<{ id: bigint; customer_id: number; text: string; text_hash: string }[]>`
      select c.id, c.customer_id, c.text, c.text_hash ${pendingWhere(model, dim, afterId, opts.commentIds)}
      order by c.id limit ${chunkSize}`;
    if (!rows.length) break;
    const vectors = await provider.embed(rows.map((r) => r.text));
    const json = JSON.stringify(
      rows.map((r, i) => {
        if (vectors[i]!.length !== dim) throw new Error(`provider returned ${vectors[i]!.length} dimensions, expected ${dim}`);
        return { comment_id: String(r.id), text_hash: r.text_hash, embedding: vectorLiteral(vectors[i]!) };
      }),
    );
    await db.$executeRaw`
      insert into comment_embeddings (comment_id, model, dim, text_hash, embedding)
      select r.comment_id, ${model}, ${dim}, r.text_hash, r.embedding::vector
      from jsonb_to_recordset(${json}::jsonb) as r(comment_id bigint, text_hash text, embedding text)
      on conflict (comment_id, model) do update set dim = excluded.dim, text_hash = excluded.text_hash,
        embedding = excluded.embedding, created_at = now()
      where (comment_embeddings.text_hash, comment_embeddings.dim) is distinct from (excluded.text_hash, excluded.dim)`;
    for (const r of rows) customers.add(Number(r.customer_id));
    embedded += rows.length;
    chunks++;
    afterId = BigInt(rows[rows.length - 1]!.id);
    opts.onChunk?.({ lastId: afterId, embedded });
    opts.onProgress?.(Math.min(0.99, embedded / Math.max(1, total)), `${embedded}/${total} comments embedded`);
  }
  return { embedded, chunks, lastId: embedded ? String(afterId) : null, customerIds: [...customers].sort((a, b) => a - b) };
}

export interface RefreshProfilesOptions {
  model: string;
  dim: number;
  halfLifeDays: number;
  /** Unset: every customer with at least one comment vector of this model. */
  customerIds?: number[];
  chunkSize?: number;
}

/**
 * Recomputes customer profile vectors (recency-weighted mean of their comment vectors) and upserts them;
 * rows whose vector and count did not change are not rewritten. Returns how many rows were written.
 */
export async function refreshProfiles(db: Db, o: RefreshProfilesOptions): Promise<{ customers: number; written: number }> {
  let ids = o.customerIds;
  if (!ids) {
    const rows = await db.$queryRaw<{ customer_id: number }[]>`
      select distinct c.customer_id from comment_embeddings e join comments c on c.id = e.comment_id
      where e.model = ${o.model} and e.dim = ${o.dim} order by 1`;
    ids = rows.map((r) => Number(r.customer_id));
  }
  const written = await writeProfiles(db, 'comments', { ...o, customerIds: ids }, async (part) => {
    const vecs = await commentVectors(db, { model: o.model, dim: o.dim, customerIds: part });
    return new Map([...vecs].map(([id, list]) => [id, list.map((c) => ({ at: c.createdAt, vector: c.vector }))]));
  });
  return { customers: ids.length, written };
}

export interface CommentVector {
  createdAt: Date;
  vector: number[];
}

/** Comment vectors of (model, dim) per customer, optionally only comments written before `before`. */
export async function commentVectors(
  db: Db,
  o: { model: string; dim: number; customerIds?: number[]; before?: Date },
): Promise<Map<number, CommentVector[]>> {
  const idFilter = o.customerIds
    ? Prisma.sql`and c.customer_id in (select (jsonb_array_elements_text(${JSON.stringify(o.customerIds)}::jsonb))::int)`
    : Prisma.empty;
  const before = o.before ? Prisma.sql`and c.created_at < ${o.before}` : Prisma.empty;
  const rows = await db.$queryRaw<{ customer_id: number; created_at: Date; v: string }[]>`
    select c.customer_id, c.created_at, e.embedding::vector(${dimSql(o.dim)})::text as v
    from comment_embeddings e join comments c on c.id = e.comment_id and c.text_hash = e.text_hash
    where e.model = ${o.model} and e.dim = ${o.dim} ${idFilter} ${before}
    order by c.customer_id, c.created_at, c.id`;
  const out = new Map<number, CommentVector[]>();
  for (const r of rows) {
    const id = Number(r.customer_id);
    let list = out.get(id);
    if (!list) out.set(id, (list = []));
    list.push({ createdAt: new Date(r.created_at), vector: parseVector(r.v) });
  }
  return out;
}

/** Profile vector: recency-weighted mean relative to the customer's latest comment (scale-free after norm). */
export function profileOf(list: CommentVector[], dim: number, halfLifeDays: number): Float32Array {
  const w = recencyWeights(list.map((c) => c.createdAt), halfLifeDays);
  return weightedMean(list.map((c) => c.vector), w, dim);
}
