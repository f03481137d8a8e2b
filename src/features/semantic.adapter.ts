import type { PrismaClient } from '../generated/prisma/client';

type Db = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$extends'>;

export interface SemanticResult {
  values: Map<number, Record<string, number>>;
  /** Embedding model used, or "unavailable: reason" — recorded with snapshots and model versions. */
  note: string;
  model: string | null;
}

type SemanticFn = (
  prisma: unknown,
  opts: { customerIds?: number[]; asOf?: Date; model: string; dim: number },
) => Promise<Map<number, Record<string, number>>>;

/**
 * The language features are optional: their module may not be installed in this build, the model may not be
 * configured, or no comment may have been embedded yet. Any of these yields no semantic features and a reason,
 * never an error, so features and training work without them.
 */
export async function loadSemanticFeatures(db: Db, opts: { customerIds?: number[]; asOf?: Date }): Promise<SemanticResult> {
  const model = process.env.EMBEDDING_MODEL || 'Xenova/all-MiniLM-L6-v2';
  const dim = Number(process.env.EMBEDDING_DIM || 384);
  let fn: SemanticFn | undefined;
  try {
    // A variable path keeps this module compiling while src/embeddings does not exist.
    const path = '../embeddings/semantic-features';
    fn = (require(path) as { semanticFeatures?: SemanticFn }).semanticFeatures;
  } catch {
    return { values: new Map(), note: 'unavailable: src/embeddings/semantic-features is not part of this build', model: null };
  }
  if (typeof fn !== 'function') return { values: new Map(), note: 'unavailable: semanticFeatures is not exported', model: null };
  try {
    const values = await fn(db, { customerIds: opts.customerIds, asOf: opts.asOf, model, dim });
    const reason = (values as { reason?: string } | undefined)?.reason;
    if (!values || values.size === 0) return { values: new Map(), note: `unavailable: ${reason ?? `no embedded comments for ${model}`}`, model: null };
    return { values, note: model, model };
  } catch (err) {
    return { values: new Map(), note: `unavailable: ${err instanceof Error ? err.message : String(err)}`, model: null };
  }
}
