import { parseEnv } from '../config/env';
import { embeddingConfigFromEnv, modelKey } from '../embeddings/embedding.config';
import { semanticFeatures } from '../embeddings/semantic-features';
import type { PrismaClient } from '../generated/prisma/client';
import { withEventFeatures } from '../events/event-features.group';

type Db = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$extends'>;

export interface SemanticResult {
  values: Map<number, Record<string, number>>;
  /** Embedding model used, or "unavailable: reason" — recorded with snapshots and model versions. */
  note: string;
  model: string | null;
}

/**
 * The language features are optional: the model may not load, or no comment may have been embedded yet. Either
 * yields no semantic features and a reason, never an error, so features and training work without them.
 * The event group (evt_*, srch_*) rides along in `values`: src/events/event-features.group.ts.
 */
export async function loadSemanticFeatures(db: Db, opts: { customerIds?: number[]; asOf?: Date }): Promise<SemanticResult> {
  return withEventFeatures(db, opts, await loadLanguageFeatures(db, opts));
}

async function loadLanguageFeatures(db: Db, opts: { customerIds?: number[]; asOf?: Date }): Promise<SemanticResult> {
  let model = 'unknown';
  try {
    // Jobs run in threads that see only process.env; the stored model name must match the embedding jobs' key
    // (fp32 and OpenAI-served vectors are named apart from int8 ones).
    const config = embeddingConfigFromEnv(parseEnv(process.env));
    model = modelKey(config);
    const values = await semanticFeatures(db as never, { customerIds: opts.customerIds, asOf: opts.asOf, model, dim: config.dim, config });
    if (values.size === 0) return { values: new Map(), note: `unavailable: ${values.reason ?? `no embedded comments for ${model}`}`, model: null };
    return { values, note: model, model };
  } catch (err) {
    return { values: new Map(), note: `unavailable: ${err instanceof Error ? err.message : String(err)}`, model: null };
  }
}
