import { z } from 'zod';
import { refreshStaleFeatures } from '../../features/feature-store.service';
import { DomainError } from '../../lib/errors';
import { scoreCustomers } from '../../models/scoring/score.service';
import { defineJob } from '../job.types';

/**
 * Recomputes the "now" feature snapshot of customers marked stale by ingestion, then re-scores exactly those
 * customers with the champion, so a changed customer gets a new score without waiting for retraining.
 */
export const refreshFeaturesJob = defineJob({
  name: 'features.refresh',
  payload: z.object({ limit: z.number().int().min(1).max(1_000_000).default(50_000), rescore: z.boolean().default(true) }),
  async handler({ limit, rescore }, ctx) {
    ctx.progress(0.05, 'recomputing stale features');
    const ids = await refreshStaleFeatures(ctx.db, { limit });
    let rescored = 0;
    if (rescore && ids.length) {
      try {
        rescored = (await scoreCustomers(ctx.db, { customerIds: ids, signal: ctx.signal, onProgress: (f, m) => ctx.progress(0.5 + 0.5 * f, m) })).scored;
      } catch (err) {
        // No champion yet is normal before the first training; anything else is a real failure.
        if (!(err instanceof DomainError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    ctx.progress(1, 'done');
    return { refreshed: ids.length, rescored };
  },
});
