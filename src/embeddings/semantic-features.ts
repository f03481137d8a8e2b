import type { PrismaClient } from '../generated/prisma/client';
import { parseEnv } from '../config/env';
import { type Concepts, conceptPrototypes, loadConcepts } from './concepts';
import { embeddingConfigFromEnv } from './embedding.config';
import type { EmbeddingConfig, EmbeddingProvider } from './embedding.types';
import { type CommentVector, commentVectors, profileOf } from './embed.service';
import { lexiconSentiment } from './lexicon-sentiment';
import { recencyWeights } from './profile';
import { EmbeddingUnavailableError, getProvider } from './provider.factory';
import { dot } from './vector-math';

type Db = Pick<PrismaClient, '$queryRaw' | '$executeRaw'>;

export interface SemanticFeatureOptions {
  /** Unset: every customer with at least one comment before asOf. */
  customerIds?: number[];
  /** Point in time: only comments created strictly before asOf count. Unset: now. */
  asOf?: Date;
  /** The embedding model key and dimension the vectors were stored under (EMBEDDING_MODEL / EMBEDDING_DIM). */
  model: string;
  dim: number;
  /** Used to embed the concept phrases; unset: built from `config`, else from the environment. */
  provider?: EmbeddingProvider;
  config?: EmbeddingConfig;
  concepts?: Concepts;
  halfLifeDays?: number;
}

/** customerId → feature values, plus what the caller should record in the model version's metadata. */
export type SemanticFeatures = Map<number, Record<string, number>> & {
  available: boolean;
  /** Why the map is empty (model not loadable, mismatched model); record it in the model metadata. */
  reason?: string;
  model: string;
  dim: number;
  featureNames: string[];
  /** Share of the counted comments that had a current vector of this model (1 when there were none). */
  coverage: number;
};

const DAY_MS = 86_400_000;
const CHUNK = 2000;
/** Days since the last comment for customers without any, so the feature stays numeric. */
export const NO_COMMENT_DAYS = 3650;

/**
 * Semantic features per customer, point-in-time at asOf:
 *   sem_comment_count, sem_days_since_last_comment (NO_COMMENT_DAYS when none), sem_has_comments (0/1),
 *   sem_sentiment (recency-weighted lexicon score of the comments, in [-1, 1]),
 *   sem_concept_<name> (cosine of the recency-weighted profile vector to each concept prototype; 0 without vectors).
 * The profile is recomputed from comment vectors written before asOf, so past training rows never see later
 * comments. Customers listed in customerIds with no comments get zeros. When the configured model cannot be
 * loaded, or is not the one asked for, the map is EMPTY and `reason` says why: no random substitute, ever.
 */
export function semanticFeatureNames(concepts: Concepts): string[] {
  return ['sem_comment_count', 'sem_days_since_last_comment', 'sem_has_comments', 'sem_sentiment', ...Object.keys(concepts).sort().map((c) => `sem_concept_${c}`)];
}

/**
 * One customer's semantic features from the comments written before asOf (texts with their dates, and the
 * vectors of those comments): the pure part shared by the database path and file-mode evaluate.
 */
export function semanticRecord(
  created: readonly Date[],
  texts: readonly string[],
  vectors: CommentVector[] | undefined,
  o: { asOf: Date; halfLifeDays: number; dim: number; prototypes: ReadonlyMap<string, Float32Array> },
): Record<string, number> {
  const f: Record<string, number> = { sem_comment_count: texts.length, sem_has_comments: texts.length ? 1 : 0 };
  if (texts.length) {
    const last = Math.max(...created.map((d) => d.getTime()));
    f.sem_days_since_last_comment = (o.asOf.getTime() - last) / DAY_MS;
    const w = recencyWeights([...created], o.halfLifeDays);
    const wsum = w.reduce((a, b) => a + b, 0);
    f.sem_sentiment = texts.reduce((s, t, k) => s + w[k]! * lexiconSentiment(t), 0) / wsum;
  } else {
    f.sem_days_since_last_comment = NO_COMMENT_DAYS;
    f.sem_sentiment = 0;
  }
  const profile = vectors?.length ? profileOf(vectors, o.dim, o.halfLifeDays) : undefined;
  for (const [name, proto] of o.prototypes) f[`sem_concept_${name}`] = profile ? dot(profile, proto) : 0;
  return f;
}

export async function semanticFeatures(prisma: Db, opts: SemanticFeatureOptions): Promise<SemanticFeatures> {
  const asOf = opts.asOf ?? new Date();
  const env = (!opts.provider && !opts.config) || !opts.concepts || !opts.halfLifeDays ? parseEnv(process.env) : undefined;
  const concepts = opts.concepts ?? loadConcepts(env?.CONCEPTS_FILE);
  const halfLife = opts.halfLifeDays ?? env!.PROFILE_HALF_LIFE_DAYS;
  const names = semanticFeatureNames(concepts);
  const result = Object.assign(new Map<number, Record<string, number>>(), {
    available: false,
    model: opts.model,
    dim: opts.dim,
    featureNames: names,
    coverage: 1,
  }) as SemanticFeatures;

  let provider: EmbeddingProvider;
  try {
    provider = opts.provider ?? (await getProvider(opts.config ?? embeddingConfigFromEnv(env!)));
  } catch (err) {
    result.reason = err instanceof EmbeddingUnavailableError ? err.reason : (err as Error).message;
    return result;
  }
  if (provider.model !== opts.model || provider.dim !== opts.dim) {
    result.reason = `configured model is ${provider.model} (${provider.dim}-d), asked for ${opts.model} (${opts.dim}-d)`;
    return result;
  }
  const prototypes = await conceptPrototypes(provider, concepts);

  // Customers in chunks, so a training set of any size never holds every comment vector in memory at once.
  let ids = opts.customerIds;
  if (!ids) {
    const rows = await prisma.$queryRaw<{ customer_id: number }[]>`
      select distinct customer_id from comments where created_at < ${asOf} order by 1`;
    ids = rows.map((r) => Number(r.customer_id));
  }
  let counted = 0;
  let withVec = 0;
  for (let i = 0; i < ids.length; i += CHUNK) {
    const part = ids.slice(i, i + CHUNK);
    const texts = await prisma.$queryRaw<{ customer_id: number; created_at: Date; text: string; has_vec: boolean }[]>`
      select c.customer_id, c.created_at, c.text,
        exists (select 1 from comment_embeddings e where e.comment_id = c.id and e.model = ${opts.model}
                and e.dim = ${opts.dim} and e.text_hash = c.text_hash) as has_vec
      from comments c
      where c.created_at < ${asOf}
        and c.customer_id in (select (jsonb_array_elements_text(${JSON.stringify(part)}::jsonb))::int)
      order by c.customer_id, c.created_at, c.id`;
    const vectors = await commentVectors(prisma, { model: opts.model, dim: opts.dim, customerIds: part, before: asOf });
    const byCustomer = new Map<number, { created: Date[]; texts: string[] }>(part.map((id) => [id, { created: [], texts: [] }]));
    for (const r of texts) {
      const e = byCustomer.get(Number(r.customer_id))!;
      e.created.push(new Date(r.created_at));
      e.texts.push(r.text);
      if (r.has_vec) withVec++;
    }
    counted += texts.length;
    for (const [id, c] of byCustomer) {
      const f = semanticRecord(c.created, c.texts, vectors.get(id), { asOf, halfLifeDays: halfLife, dim: opts.dim, prototypes });
      result.set(id, f);
    }
  }
  result.coverage = counted ? withVec / counted : 1;
  result.available = true;
  return result;
}
