import { z } from 'zod';
import type { Env } from '../config/env';
import { parseEnv } from '../config/env';
import { embeddingConfigFromEnv } from './embedding.config';
import type { EmbeddingConfig } from './embedding.types';

/**
 * The embedding settings travel in the job payload (never the OpenAI key), so a job runs with the model the
 * enqueuing process was configured with, whichever thread or worker process picks it up.
 */
export const configPayload = z
  .object({
    provider: z.enum(['transformers', 'openai', 'none']),
    model: z.string().min(1),
    dim: z.number().int().min(2).max(4000),
    cacheDir: z.string().optional(),
    allowRemote: z.boolean(),
    quantized: z.boolean(),
    threads: z.number().int().min(1).max(64),
    batchSize: z.number().int().min(1).max(1024),
    maxTokens: z.number().int().optional(),
    openaiUrl: z.string().optional(),
    openaiTimeoutMs: z.number().int(),
    openaiMaxBatch: z.number().int(),
  })
  .partial();

export const decimalId = z.string().regex(/^\d{1,19}$/, 'must be a decimal id');

export function resolveConfig(overrides: z.infer<typeof configPayload> | undefined): EmbeddingConfig {
  return { ...embeddingConfigFromEnv(parseEnv(process.env)), ...stripUndefined(overrides ?? {}) };
}

export function configForPayload(env: Env): z.infer<typeof configPayload> {
  return stripUndefined({ ...embeddingConfigFromEnv(env) });
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
