import { z } from 'zod';
import { scoreCustomers } from '../../models/scoring/score.service';
import { defineJob } from '../job.types';

/** Scores customers (all by default) with a model version (the champion by default). Idempotent upserts. */
export const scoreCustomersJob = defineJob({
  name: 'models.score',
  payload: z.object({
    modelVersionId: z.number().int().positive().optional(),
    customerIds: z.array(z.number().int().positive()).max(1_000_000).optional(),
  }),
  async handler({ modelVersionId, customerIds }, ctx) {
    const out = await scoreCustomers(ctx.db, { modelVersionId, customerIds, signal: ctx.signal, onProgress: (f, m) => ctx.progress(f, m) });
    return out;
  },
});
