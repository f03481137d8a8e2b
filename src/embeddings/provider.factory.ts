import type { EmbeddingConfig, EmbeddingProvider, EmbeddingStatus } from './embedding.types';
import { modelKey } from './embedding.config';
import { OpenAiProvider } from './openai.provider';
import { TransformersProvider } from './transformers.provider';

/** The configured model cannot be used; callers degrade (no semantic features) and report `reason`. */
export class EmbeddingUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`embeddings unavailable: ${reason}`);
    this.name = 'EmbeddingUnavailableError';
  }
}

const loaded = new Map<string, Promise<EmbeddingProvider>>();
/** Failed loads are remembered briefly so a status poll or search burst doesn't retry the download each time. */
const RETRY_AFTER_MS = 60_000;
const failed = new Map<string, { at: number; err: EmbeddingUnavailableError }>();

function cacheKey(c: EmbeddingConfig): string {
  return JSON.stringify([c.provider, c.model, c.dim, c.quantized, c.threads, c.batchSize, c.maxTokens, c.openaiUrl, c.cacheDir, c.allowRemote]);
}

/**
 * The provider for a configuration, loaded once per process (job threads reuse it across jobs). A failed load
 * is retried after a minute, so a model that appears later (copied into the cache dir) is picked up.
 */
export function getProvider(cfg: EmbeddingConfig): Promise<EmbeddingProvider> {
  const key = cacheKey(cfg);
  const f = failed.get(key);
  if (f && Date.now() - f.at < RETRY_AFTER_MS) return Promise.reject(f.err);
  let p = loaded.get(key);
  if (!p) {
    p = build(cfg).catch((err: Error) => {
      loaded.delete(key);
      const e = err instanceof EmbeddingUnavailableError ? err : new EmbeddingUnavailableError(describe(cfg, err));
      failed.set(key, { at: Date.now(), err: e });
      throw e;
    });
    loaded.set(key, p);
  }
  return p;
}

async function build(cfg: EmbeddingConfig): Promise<EmbeddingProvider> {
  if (cfg.provider === 'none') throw new EmbeddingUnavailableError('EMBEDDING_PROVIDER is none');
  if (cfg.provider === 'openai') {
    if (!cfg.openaiUrl) throw new EmbeddingUnavailableError('EMBEDDING_PROVIDER is openai but EMBEDDING_OPENAI_URL is not set');
    return new OpenAiProvider(cfg, {
      url: cfg.openaiUrl,
      apiKey: process.env.EMBEDDING_OPENAI_KEY || undefined,
      timeoutMs: cfg.openaiTimeoutMs,
      maxBatch: cfg.openaiMaxBatch,
    });
  }
  return TransformersProvider.load(cfg);
}

function describe(cfg: EmbeddingConfig, err: Error): string {
  const msg = (err?.message ?? String(err)).split('\n')[0]!.slice(0, 300);
  const hint = cfg.allowRemote ? '' : ' (remote downloads are off: EMBEDDING_ALLOW_REMOTE=false)';
  const network = cfg.allowRemote && /fetch failed|ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT/.test(msg)
    ? ` (the Hugging Face hub is unreachable from here; copy the model to ${cfg.cacheDir ?? 'EMBEDDING_CACHE_DIR'}/${cfg.model} or use a local directory)`
    : '';
  return `cannot load ${cfg.provider} model "${cfg.model}"${hint}: ${msg}${network}`;
}

/** Loads (or reuses) the provider and reports whether semantic features are available, never throwing. */
export async function embeddingStatus(cfg: EmbeddingConfig): Promise<EmbeddingStatus> {
  const base = { provider: cfg.provider, model: modelKey(cfg), dim: cfg.dim };
  try {
    await getProvider(cfg);
    return { ...base, available: true };
  } catch (err) {
    return { ...base, available: false, reason: err instanceof EmbeddingUnavailableError ? err.reason : String(err) };
  }
}
