import type { PrismaClient } from '../generated/prisma/client';
import { type Concepts, conceptPrototypes } from '../embeddings/concepts';
import type { EmbeddingProvider } from '../embeddings/embedding.types';
import { recencyWeights } from '../embeddings/profile';
import { dot, weightedMean } from '../embeddings/vector-math';
import { searchVectors } from './search-embed.service';

type Db = Pick<PrismaClient, '$queryRaw' | '$executeRaw'>;

/**
 * "What they look for", point-in-time: the recency-weighted profile of a customer's embedded searches made
 * strictly before asOf, compared with the same concept prototypes as the comment features:
 *   srch_embedded_count       searches with a current vector before asOf
 *   srch_concept_<name>       cosine of the search profile to the concept (0 without searches)
 * Kept apart from sem_concept_* (what they write), so a model can tell "searches for discounts" from "complains
 * about prices".
 */
export async function searchInterestFeatures(
  db: Db,
  o: { customerIds: number[]; asOf: Date; provider: EmbeddingProvider; concepts: Concepts; halfLifeDays: number },
): Promise<Map<number, Record<string, number>>> {
  const out = new Map<number, Record<string, number>>();
  if (!o.customerIds.length) return out;
  const prototypes = await conceptPrototypes(o.provider, o.concepts);
  const vectors = await searchVectors(db, { model: o.provider.model, dim: o.provider.dim, customerIds: o.customerIds, before: o.asOf });
  for (const id of o.customerIds) {
    const list = vectors.get(id) ?? [];
    const f: Record<string, number> = { srch_embedded_count: list.length };
    const profile = list.length
      ? weightedMean(list.map((l) => l.vector), recencyWeights(list.map((l) => l.at), o.halfLifeDays), o.provider.dim)
      : undefined;
    for (const [name, proto] of prototypes) f[`srch_concept_${name}`] = profile ? dot(profile, proto) : 0;
    out.set(id, f);
  }
  return out;
}
