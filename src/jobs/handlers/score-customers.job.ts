import { z } from 'zod';
import { scoreCustomers } from '../../models/scoring/score.service';
import { defineJob } from '../job.types';

/**
 * Scores customers (all by default) with a model version (the champion by default) and segments the result as
 * one scoring run (scoring_runs / customer_segments). Idempotent upserts; a retry records a new run.
 */
export const scoreCustomersJob = defineJob({
  name: 'models.score',
  payload: z.object({
    modelVersionId: z.number().int().positive().optional(),
    customerIds: z.array(z.number().int().positive()).max(1_000_000).optional(),
  }),
  async handler({ modelVersionId, customerIds }, ctx) {
    const out = await scoreCustomers(ctx.db, { modelVersionId, customerIds, jobRunId: ctx.runId, signal: ctx.signal, onProgress: (f, m) => ctx.progress(f, m) });
    return out;
  },
});
