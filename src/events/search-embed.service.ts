import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { dimSql, parseVector, vectorLiteral } from '../db/vector';
import type { EmbeddingProvider } from '../embeddings/embedding.types';
import { writeProfiles } from '../embeddings/profile-store';

type Db = Pick<PrismaClient, '$queryRaw' | '$executeRaw'>;

/**
 * Search texts go through the same provider as comments, into event_embeddings, and are profiled into their own
 * table (customer_search_profile_embeddings): "what they look for" stays apart from "what they say".
 */

function pendingWhere(model: string, dim: number, afterId: bigint, ids?: bigint[]): Prisma.Sql {
  const idFilter = ids
    ? Prisma.sql`and ev.id in (select (jsonb_array_elements_text(${JSON.stringify(ids.map(String))}::jsonb))::bigint)`
    : Prisma.empty;
  return Prisma.sql`
    from events ev
    left join event_embeddings e on e.event_id = ev.id and e.model = ${model}
    where ev.type = 'search' and ev.text_hash is not null and ev.id > ${afterId} ${idFilter}
      and (e.event_id is null or e.text_hash <> ev.text_hash or e.dim <> ${dim})`;
}

export interface EmbedSearchesResult {
  embedded: number;
  /** Distinct texts sent to the model (repeated queries in one chunk are embedded once). */
  distinctTexts: number;
  customerIds: number[];
}

/** Idempotent and resumable like embedPendingComments: the pending set is the source of truth. */
export async function embedPendingSearches(
  db: Db,
  provider: EmbeddingProvider,
  opts: { eventIds?: bigint[]; chunkSize?: number; signal?: AbortSignal; onProgress?: (f: number, m: string) => void } = {},
): Promise<EmbedSearchesResult> {
  const { model, dim } = provider;
  const chunkSize = opts.chunkSize ?? 256;
  const [count] = await db.$queryRaw<{ n: bigint }[]>`select count(*)::bigint as n ${pendingWhere(model, dim, 0n, opts.eventIds)}`;
  const total = Number(count?.n ?? 0);
  const customers = new Set<number>();
  let afterId = 0n;
  let embedded = 0;
  let distinctTexts = 0;
  for (;;) {
    if (opts.signal?.aborted) throw new Error('embedding aborted by shutdown; the next run resumes');
    const rows = await db.$queryRaw<{ id: bigint; customer_id: number; text: string; text_hash: string }[]>`
      select ev.id, ev.customer_id, ev.text, ev.text_hash ${pendingWhere(model, dim, afterId, opts.eventIds)}
      order by ev.id limit ${chunkSize}`;
    if (!rows.length) break;
    // Search logs repeat the same few queries: embed each distinct text once per chunk.
    const distinct = [...new Map(rows.map((r) => [r.text_hash, r.text])).entries()];
    const vectors = await provider.embed(distinct.map(([, t]) => t));
    const byHash = new Map(distinct.map(([h], i) => [h, vectors[i]!]));
    const json = JSON.stringify(
      rows.map((r) => {
        const v = byHash.get(r.text_hash)!;
        if (v.length !== dim) throw new Error(`provider returned ${v.length} dimensions, expected ${dim}`);
        return { event_id: String(r.id), text_hash: r.text_hash, embedding: vectorLiteral(v) };
      }),
    );
    await db.$executeRaw`
      insert into event_embeddings (event_id, model, dim, text_hash, embedding)
      select r.event_id, ${model}, ${dim}, r.text_hash, r.embedding::vector
      from jsonb_to_recordset(${json}::jsonb) as r(event_id bigint, text_hash text, embedding text)
      on conflict (event_id, model) do update set dim = excluded.dim, text_hash = excluded.text_hash,
        embedding = excluded.embedding, created_at = now()
      where (event_embeddings.text_hash, event_embeddings.dim) is distinct from (excluded.text_hash, excluded.dim)`;
    for (const r of rows) customers.add(Number(r.customer_id));
    embedded += rows.length;
    distinctTexts += distinct.length;
    afterId = BigInt(rows[rows.length - 1]!.id);
    opts.onProgress?.(Math.min(0.99, embedded / Math.max(1, total)), `${embedded}/${total} search texts embedded`);
  }
  return { embedded, distinctTexts, customerIds: [...customers].sort((a, b) => a - b) };
}

/** Recency-weighted mean of each customer's search vectors (as comment profiles), upserted when changed. */
export async function refreshSearchProfiles(
  db: Db,
  o: { model: string; dim: number; halfLifeDays: number; customerIds?: number[]; chunkSize?: number },
): Promise<{ customers: number; written: number }> {
  let ids = o.customerIds;
  if (!ids) {
    const rows = await db.$queryRaw<{ customer_id: number }[]>`
      select distinct ev.customer_id from event_embeddings e join events ev on ev.id = e.event_id
      where e.model = ${o.model} and e.dim = ${o.dim} order by 1`;
    ids = rows.map((r) => Number(r.customer_id));
  }
  const written = await writeProfiles(db, 'searches', { ...o, customerIds: ids }, (part) =>
    searchVectors(db, { model: o.model, dim: o.dim, customerIds: part }),
  );
  return { customers: ids.length, written };
}

/** Current search vectors of (model, dim) per customer, oldest first; with `before`, only searches made before it. */
export async function searchVectors(
  db: Db,
  o: { model: string; dim: number; customerIds: number[]; before?: Date },
): Promise<Map<number, { at: Date; vector: number[] }[]>> {
  const before = o.before ? Prisma.sql`and ev.occurred_at < ${o.before.toISOString()}::timestamptz` : Prisma.empty;
  const rows = await db.$queryRaw<{ customer_id: number; at: Date; v: string }[]>`
    select ev.customer_id, ev.occurred_at as at, e.embedding::vector(${dimSql(o.dim)})::text as v
    from event_embeddings e join events ev on ev.id = e.event_id and ev.text_hash = e.text_hash
    where e.model = ${o.model} and e.dim = ${o.dim}
      and ev.customer_id in (select (jsonb_array_elements_text(${JSON.stringify(o.customerIds)}::jsonb))::int) ${before}
    order by ev.customer_id, ev.occurred_at, ev.id`;
  const out = new Map<number, { at: Date; vector: number[] }[]>();
  for (const r of rows) {
    const id = Number(r.customer_id);
    let list = out.get(id);
    if (!list) out.set(id, (list = []));
    list.push({ at: new Date(r.at), vector: parseVector(r.v) });
  }
  return out;
}
