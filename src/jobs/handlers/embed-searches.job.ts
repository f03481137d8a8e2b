import { z } from 'zod';
import { parseEnv } from '../../config/env';
import { configPayload, decimalId, resolveConfig } from '../../embeddings/embed.jobs-payload';
import { EmbeddingUnavailableError, getProvider } from '../../embeddings/provider.factory';
import { embedPendingSearches, refreshSearchProfiles } from '../../events/search-embed.service';
import { defineJob } from '../job.types';

export const EMBED_SEARCHES_JOB = 'embeddings.embed-searches';

/**
 * Embeds search-event texts lacking a current vector (all, or the listed event ids) with the comment model, then
 * refreshes the search profiles of the customers concerned. Idempotent and resumable; a model that cannot load
 * finishes the run with the reason instead of retrying.
 */
export const embedSearchesJob = defineJob({
  name: EMBED_SEARCHES_JOB,
  payload: z.object({
    eventIds: z.array(decimalId).max(100_000).optional(),
    chunkSize: z.number().int().min(1).max(5000).default(256),
    refreshProfiles: z.boolean().default(true),
    halfLifeDays: z.number().min(1).max(36_500).optional(),
    config: configPayload.optional(),
  }),
  async handler(p, ctx) {
    let provider;
    try {
      provider = await getProvider(resolveConfig(p.config));
    } catch (err) {
      if (!(err instanceof EmbeddingUnavailableError)) throw err;
      ctx.log.warn({ reason: err.reason }, 'search texts not embedded: model unavailable');
      ctx.progress(1, `skipped: ${err.reason}`);
      return { available: false, reason: err.reason, embedded: 0 };
    }
    const r = await embedPendingSearches(ctx.db, provider, {
      eventIds: p.eventIds?.map((id) => BigInt(id)),
      chunkSize: p.chunkSize,
      signal: ctx.signal,
      onProgress: (f, m) => ctx.progress(f * 0.9, m),
    });
    let profiles = { customers: 0, written: 0 };
    if (p.refreshProfiles && r.customerIds.length) {
      const halfLifeDays = p.halfLifeDays ?? parseEnv(process.env).PROFILE_HALF_LIFE_DAYS;
      profiles = await refreshSearchProfiles(ctx.db, { model: provider.model, dim: provider.dim, halfLifeDays, customerIds: r.customerIds });
    }
    ctx.progress(1, `${r.embedded} search texts embedded (${r.distinctTexts} distinct), ${profiles.written} search profiles written`);
    return { available: true, model: provider.model, dim: provider.dim, embedded: r.embedded, distinctTexts: r.distinctTexts, profilesWritten: profiles.written };
  },
});
