import { badInput } from '../lib/errors';
import { readRecordsFile } from '../lib/records-file';
import type { History } from '../models/clv/clv-baselines';
import type { FeatureGroup } from '../models/evaluate/evaluate';
import { parseEnv } from '../config/env';
import { type Concepts, conceptPrototypes, loadConcepts } from './concepts';
import { embeddingConfigFromEnv } from './embedding.config';
import type { CommentVector } from './embed.service';
import type { EmbeddingProvider } from './embedding.types';
import { EmbeddingUnavailableError, getProvider } from './provider.factory';
import { semanticFeatureNames, semanticRecord } from './semantic-features';

/** The semantic feature set's name in evaluate's output (the database path records model and dim beside it). */
export const SEMANTIC_GROUP = 'semantic-v1';

export interface FileComment {
  at: number;
  text: string;
}

/**
 * `valuegraph evaluate --comments FILE`: the import's generic comments layout (NDJSON or CSV, optionally .gz):
 * customer_id, created_at (ISO-8601), text; other columns are ignored. customer_id must match the transactions
 * file's customer ids as evaluate reads them (Online Retail: the integer id). Errors name the row and the field.
 */
export function readCommentsFile(file: string): Map<string, FileComment[]> {
  const records = readRecordsFile(file, '--comments');
  const out = new Map<string, FileComment[]>();
  records.forEach((r, i) => {
    const row = i + 1;
    const customer = String(r.customer_id ?? r.customerExternalId ?? '').trim();
    if (!customer) throw badInput('comments file: customer_id is required', [{ row, field: 'customer_id', message: 'missing' }]);
    const at = Date.parse(String(r.created_at ?? r.createdAt ?? ''));
    if (!Number.isFinite(at)) throw badInput('comments file: created_at must be an ISO-8601 date', [{ row, field: 'created_at', message: String(r.created_at ?? r.createdAt ?? 'missing').slice(0, 100) }]);
    const body = r.text;
    if (typeof body !== 'string' || !body.trim()) throw badInput('comments file: text must be a non-empty string', [{ row, field: 'text', message: 'missing or empty' }]);
    let list = out.get(customer);
    if (!list) out.set(customer, (list = []));
    list.push({ at, text: body });
  });
  for (const list of out.values()) list.sort((a, b) => a.at - b.at);
  return out;
}

export interface SemanticGroupOptions {
  /** Comments at or after it are dropped before anything is embedded: nothing after the cutoff reaches a model. */
  cutoff: number;
  concepts: Concepts;
  halfLifeDays: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * The semantic group for file-mode evaluate, computed exactly like the feature store's (semanticRecord): each
 * distinct comment text before the cutoff is embedded once, and `at(asOf)` uses only the comments written
 * strictly before asOf. Customers without comments get the no-comment values, as in the database path.
 */
export async function semanticFeatureGroup(
  comments: ReadonlyMap<string, readonly FileComment[]>,
  histories: readonly History[],
  provider: EmbeddingProvider,
  o: SemanticGroupOptions,
): Promise<FeatureGroup & { comments: number; customers: number }> {
  const keys = new Set(histories.map((h) => h.key));
  const kept = new Map<string, FileComment[]>();
  for (const [k, list] of comments) {
    if (!keys.has(k)) continue;
    const before = list.filter((c) => c.at < o.cutoff);
    if (before.length) kept.set(k, before);
  }
  // Distinct texts, sorted by length so the provider's batches pad little.
  const texts = [...new Set([...kept.values()].flatMap((l) => l.map((c) => c.text)))].sort((a, b) => a.length - b.length);
  const vectors = new Map<string, number[]>();
  const BATCH = 256;
  for (let i = 0; i < texts.length; i += BATCH) {
    const part = texts.slice(i, i + BATCH);
    const vs = await provider.embed(part);
    part.forEach((t, j) => vectors.set(t, Array.from(vs[j]!)));
    o.onProgress?.(Math.min(texts.length, i + BATCH), texts.length);
  }
  const prototypes = await conceptPrototypes(provider, o.concepts);
  const names = semanticFeatureNames(o.concepts);
  return {
    name: SEMANTIC_GROUP,
    names,
    comments: [...kept.values()].reduce((n, l) => n + l.length, 0),
    customers: kept.size,
    at(asOf) {
      const m = new Map<string, Record<string, number>>();
      const asOfDate = new Date(asOf);
      for (const h of histories) {
        const list = (kept.get(h.key) ?? []).filter((c) => c.at < asOf);
        const created = list.map((c) => new Date(c.at));
        const vs: CommentVector[] = list.map((c) => ({ createdAt: new Date(c.at), vector: vectors.get(c.text)! }));
        m.set(h.key, semanticRecord(created, list.map((c) => c.text), vs, { asOf: asOfDate, halfLifeDays: o.halfLifeDays, dim: provider.dim, prototypes }));
      }
      return m;
    },
  };
}

/**
 * What `evaluate --comments` uses: the group built with the configured embedding model (EMBEDDING_*, concepts and
 * half-life as in the feature store), or why there is none — the model cannot be loaded here (no download, no
 * weights) — in which case the evaluation runs without it and says so; no random substitute, ever.
 */
export async function semanticGroupForEvaluate(
  file: string,
  histories: readonly History[],
  cutoff: number,
  onProgress?: (done: number, total: number) => void,
): Promise<{ group: Awaited<ReturnType<typeof semanticFeatureGroup>>; model: string } | { reason: string }> {
  const comments = readCommentsFile(file);
  let provider: EmbeddingProvider;
  let env: ReturnType<typeof parseEnv>;
  try {
    env = parseEnv(process.env);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('loading the model took over 30 s')), 30_000)));
    provider = await Promise.race([getProvider(embeddingConfigFromEnv(env)), timeout]).finally(() => clearTimeout(timer));
  } catch (err) {
    return { reason: `no embedding model loads here (${err instanceof EmbeddingUnavailableError ? err.reason : (err as Error).message}), and no random substitute is used` };
  }
  // The provider stays open: getProvider shares one per process.
  const group = await semanticFeatureGroup(comments, histories, provider, { cutoff, concepts: loadConcepts(env.CONCEPTS_FILE), halfLifeDays: env.PROFILE_HALF_LIFE_DAYS, onProgress });
  return { group, model: provider.model };
}
