import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { vectorLiteral } from '../db/vector';
import type { EmbeddingProvider } from './embedding.types';

/**
 * Embedding with claims, for many workers at once (PostgreSQL). Each chunk is claimed inside a transaction with
 * SELECT … FOR UPDATE SKIP LOCKED on the comment rows and stays locked while its texts are embedded, so two
 * workers never embed the same comment: a worker skips rows another one holds, and after taking its locks it
 * re-reads which of them still lack a current vector (a fresh statement sees vectors committed meanwhile).
 * The transaction spans one inference call (seconds); keep chunks small.
 */

export interface RangeClaimOptions {
  /** Comments with afterId < id ≤ untilId. */
  afterId: bigint;
  untilId: bigint;
  chunkSize?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}

const pending = (model: string, dim: number) => Prisma.sql`
  not exists (select 1 from comment_embeddings e where e.comment_id = c.id and e.model = ${model} and e.dim = ${dim} and e.text_hash = c.text_hash)`;

export async function embedRangeClaimed(db: PrismaClient, provider: EmbeddingProvider, o: RangeClaimOptions): Promise<{ embedded: number; chunks: number }> {
  const { model, dim } = provider;
  const chunk = o.chunkSize ?? 64;
  const [count] = await db.$queryRaw<{ n: bigint }[]>`
    select count(*)::bigint as n from comments c where c.id > ${o.afterId} and c.id <= ${o.untilId} and ${pending(model, dim)}`;
  const total = Number(count?.n ?? 0);
  let cursor = o.afterId;
  let embedded = 0;
  let chunks = 0;
  for (;;) {
    if (o.signal?.aborted) throw new Error('embedding aborted by shutdown; the next run resumes');
    if (cursor >= o.untilId) {
      // Rows skipped because another worker held them: done once they have vectors. Wait and claim again (a
      // worker that died released its locks with its connection, and then this one embeds them).
      const [left] = await db.$queryRaw<{ n: bigint }[]>`
        select count(*)::bigint as n from comments c where c.id > ${o.afterId} and c.id <= ${o.untilId} and ${pending(model, dim)}`;
      if (!Number(left?.n ?? 0)) break;
      await new Promise((r) => setTimeout(r, 200));
      cursor = o.afterId;
    }
    const step = await db.$transaction(
      async (tx) => {
        const locked = await tx.$queryRaw<{ id: bigint }[]>`
          select c.id from comments c
          where c.id > ${cursor} and c.id <= ${o.untilId} and ${pending(model, dim)}
          order by c.id limit ${chunk}
          for update of c skip locked`;
        if (!locked.length) return null;
        const ids = JSON.stringify(locked.map((r) => String(r.id)));
        const rows = await tx.$queryRaw<{ id: bigint; text: string; text_hash: string }[]>`
          select c.id, c.text, c.text_hash from comments c
          where c.id in (select (jsonb_array_elements_text(${ids}::jsonb))::bigint) and ${pending(model, dim)}
          order by c.id`;
        if (rows.length) {
          const vectors = await provider.embed(rows.map((r) => r.text));
          const json = JSON.stringify(
            rows.map((r, i) => {
              if (vectors[i]!.length !== dim) throw new Error(`provider returned ${vectors[i]!.length} dimensions, expected ${dim}`);
              return { comment_id: String(r.id), text_hash: r.text_hash, embedding: vectorLiteral(vectors[i]!) };
            }),
          );
          await tx.$executeRaw`
            insert into comment_embeddings (comment_id, model, dim, text_hash, embedding)
            select r.comment_id, ${model}, ${dim}, r.text_hash, r.embedding::vector
            from jsonb_to_recordset(${json}::jsonb) as r(comment_id bigint, text_hash text, embedding text)
            on conflict (comment_id, model) do update set dim = excluded.dim, text_hash = excluded.text_hash,
              embedding = excluded.embedding, created_at = now()`;
        }
        return { lastId: BigInt(locked[locked.length - 1]!.id), n: rows.length };
      },
      { maxWait: 30_000, timeout: 10 * 60_000 },
    );
    cursor = step ? step.lastId : o.untilId;
    if (!step) continue;
    embedded += step.n;
    chunks++;
    o.onProgress?.(Math.min(0.99, embedded / Math.max(1, total)), `${embedded}/${total} comments embedded`);
  }
  return { embedded, chunks };
}

/** Splits the comments lacking a current vector into `shares` id ranges of about equal counts. */
export async function pendingRanges(db: PrismaClient, model: string, dim: number, shares: number): Promise<{ afterId: bigint; untilId: bigint; count: number }[]> {
  const rows = await db.$queryRaw<{ t: number; lo: bigint; hi: bigint; n: bigint }[]>`
    select t, min(id) as lo, max(id) as hi, count(*)::bigint as n
    from (select c.id, ntile(${shares}::int) over (order by c.id) as t from comments c where ${pending(model, dim)}) p
    group by t order by t`;
  // Ranges are contiguous from the first pending id (minus one) so together they cover every pending comment.
  return rows.map((r, i) => ({ afterId: i === 0 ? BigInt(r.lo) - 1n : BigInt(rows[i - 1]!.hi), untilId: BigInt(r.hi), count: Number(r.n) }));
}
