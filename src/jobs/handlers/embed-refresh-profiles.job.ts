import { z } from 'zod';
import { refreshProfiles } from '../../embeddings/embed.service';
import { configPayload, resolveConfig } from '../../embeddings/embed.jobs-payload';
import { modelKey } from '../../embeddings/embedding.config';
import { parseEnv } from '../../config/env';
import { defineJob } from '../job.types';

/**
 * Recomputes customer profile vectors from stored comment vectors (no model needed): after a change of
 * PROFILE_HALF_LIFE_DAYS, or for customers whose comments were deleted or re-embedded elsewhere.
 */
export const embedRefreshProfilesJob = defineJob({
  name: 'embeddings.refresh-profiles',
  payload: z.object({
    customerIds: z.array(z.number().int().positive()).max(1_000_000).optional(),
    halfLifeDays: z.number().min(1).max(36_500).optional(),
    config: configPayload.optional(),
  }),
  async handler(p, ctx) {
    const cfg = resolveConfig(p.config);
    const halfLifeDays = p.halfLifeDays ?? parseEnv(process.env).PROFILE_HALF_LIFE_DAYS;
    ctx.progress(0, 'refreshing profiles');
    const r = await refreshProfiles(ctx.db, { model: modelKey(cfg), dim: cfg.dim, halfLifeDays, customerIds: p.customerIds });
    ctx.progress(1, `${r.written} of ${r.customers} profiles written`);
    return r;
  },
});
