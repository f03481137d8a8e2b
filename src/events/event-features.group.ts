import { parseEnv } from '../config/env';
import { loadConcepts } from '../embeddings/concepts';
import { embeddingConfigFromEnv, modelKey } from '../embeddings/embedding.config';
import { getProvider } from '../embeddings/provider.factory';
import type { PrismaClient } from '../generated/prisma/client';
import { loadEventFeatures } from './event-features.loader';
import { searchInterestFeatures } from './search-features';

type Db = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$extends'>;

/**
 * Adds the event feature group (evt_*, and srch_* when search texts are embedded) to the extra per-customer
 * features that every database path already carries beside behaviour-v1 (the semantic group): feature snapshots,
 * training windows and scoring all read extras through loadSemanticFeatures, so this one hook keeps the three in
 * agreement. `note` and `model` keep describing the language features only. evt_* needs no model and is present
 * whenever events exist before asOf; srch_* needs the language model that embedded the searches, and is present
 * whenever it is loaded and any search vector of it exists (at any time, so every window has the same columns).
 */
export async function withEventFeatures<R extends { values: Map<number, Record<string, number>> }>(
  db: Db,
  opts: { customerIds?: number[]; asOf?: Date },
  result: R,
): Promise<R> {
  const asOf = opts.asOf ?? new Date();
  const events = await loadEventFeatures(db, { customerIds: opts.customerIds, asOf });
  if (!events.size) return result;
  const values = new Map(result.values);
  for (const [id, v] of events) values.set(id, { ...(values.get(id) ?? {}), ...v });
  const search = await searchFeatures(db, [...events.keys()], asOf);
  for (const [id, v] of search ?? []) values.set(id, { ...(values.get(id) ?? {}), ...v });
  return { ...result, values };
}

async function searchFeatures(db: Db, customerIds: number[], asOf: Date): Promise<Map<number, Record<string, number>> | null> {
  try {
    // Jobs run in threads that see only process.env; the key must match the one the embedding job stored.
    const env = parseEnv(process.env);
    const config = embeddingConfigFromEnv(env);
    const model = modelKey(config);
    const [any] = await db.$queryRaw<{ n: boolean }[]>`select exists (select 1 from event_embeddings where model = ${model}) as n`;
    if (!any?.n) return null;
    const provider = await getProvider(config);
    return await searchInterestFeatures(db, { customerIds, asOf, provider, concepts: loadConcepts(env.CONCEPTS_FILE), halfLifeDays: env.PROFILE_HALF_LIFE_DAYS });
  } catch {
    // Optional like the language features: without the model there are no search features, never an error.
    return null;
  }
}
