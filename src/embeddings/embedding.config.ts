import type { Env } from '../config/env';
import type { EmbeddingConfig } from './embedding.types';

/** The embedding part of the validated environment. */
export function embeddingConfigFromEnv(env: Env): EmbeddingConfig {
  return {
    provider: env.EMBEDDING_PROVIDER,
    model: env.EMBEDDING_MODEL,
    dim: env.EMBEDDING_DIM,
    cacheDir: env.EMBEDDING_CACHE_DIR,
    allowRemote: env.EMBEDDING_ALLOW_REMOTE,
    quantized: env.EMBEDDING_QUANTIZED,
    threads: env.EMBEDDING_THREADS,
    batchSize: env.EMBEDDING_BATCH_SIZE,
    maxTokens: env.EMBEDDING_MAX_TOKENS,
    openaiUrl: env.EMBEDDING_OPENAI_URL,
    openaiTimeoutMs: env.EMBEDDING_OPENAI_TIMEOUT_MS,
    openaiMaxBatch: env.EMBEDDING_OPENAI_MAX_BATCH,
  };
}

/**
 * The name stored with each vector. int8 and fp32 runs of one model give slightly different vectors, so fp32
 * gets its own name rather than being mixed with the quantized ones; an OpenAI-served model is prefixed too.
 */
export function modelKey(c: Pick<EmbeddingConfig, 'provider' | 'model' | 'quantized'>): string {
  if (c.provider === 'openai') return `openai:${c.model}`;
  return c.quantized ? c.model : `${c.model}:fp32`;
}
