import { z } from 'zod';
import { embedPendingComments, refreshProfiles } from '../../embeddings/embed.service';
import { configPayload, decimalId, resolveConfig } from '../../embeddings/embed.jobs-payload';
import { EmbeddingUnavailableError, getProvider } from '../../embeddings/provider.factory';
import { parseEnv } from '../../config/env';
import { embedRefreshProfilesJob } from './embed-refresh-profiles.job';
import { defineJob } from '../job.types';

/**
 * Embeds comments that lack a current vector for the configured model (all of them, or the listed ids), in
 * committed chunks, then refreshes the profile vectors of the customers concerned. Re-running writes nothing;
 * a retry after a crash continues after the last committed chunk. Inference runs here, in the job thread.
 */
export const embedCommentsJob = defineJob({
  name: 'embeddings.embed-comments',
  payload: z.object({
    commentIds: z.array(decimalId).max(100_000).optional(),
    afterId: decimalId.optional(),
    chunkSize: z.number().int().min(1).max(5000).default(256),
    refreshProfiles: z.boolean().default(true),
    halfLifeDays: z.number().min(1).max(36_500).optional(),
    config: configPayload.optional(),
  }),
  async handler(p, ctx) {
    const cfg = resolveConfig(p.config);
    let provider;
    try {
      provider = await getProvider(cfg);
    } catch (err) {
      if (!(err instanceof EmbeddingUnavailableError)) throw err;
      // Retrying cannot make a missing model appear: finish and say so instead of failing three times.
      ctx.log.warn({ reason: err.reason }, 'semantic features unavailable: comments not embedded');
      ctx.progress(1, `skipped: ${err.reason}`);
      return { available: false, reason: err.reason, embedded: 0 };
    }
    const withProfiles = p.refreshProfiles;
    const r = await embedPendingComments(ctx.db, provider, {
      commentIds: p.commentIds?.map((id) => BigInt(id)),
      afterId: p.afterId ? BigInt(p.afterId) : undefined,
      chunkSize: p.chunkSize,
      signal: ctx.signal,
      onProgress: (f, m) => ctx.progress(withProfiles ? f * 0.9 : f, m),
    });
    let profiles = { customers: 0, written: 0 };
    if (withProfiles && r.customerIds.length) {
      ctx.progress(0.9, `refreshing ${r.customerIds.length} customer profiles`);
      const halfLifeDays = p.halfLifeDays ?? parseEnv(process.env).PROFILE_HALF_LIFE_DAYS;
      profiles = await refreshProfiles(ctx.db, { model: provider.model, dim: provider.dim, halfLifeDays, customerIds: r.customerIds });
    }
    ctx.progress(1, `${r.embedded} comments embedded, ${profiles.written} profiles written`);
    return { available: true, model: provider.model, dim: provider.dim, embedded: r.embedded, chunks: r.chunks, lastId: r.lastId, profilesWritten: profiles.written };
  },
});

/** Both embedding jobs, for the registry. */
export const embeddingJobs = [embedCommentsJob, embedRefreshProfilesJob];
