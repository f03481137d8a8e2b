import { z } from 'zod';
import { refreshBehaviorVectors } from '../../similarity/behavior-vectors.service';
import { defineJob } from '../job.types';

/**
 * Re-standardizes every behaviour vector: fresh means/stds from all current feature snapshots, then every vector
 * rewritten. features.refresh keeps vectors current incrementally (and re-standardizes by itself when the
 * population drifts); this is for after a bulk import or a change of the behaviour feature spec.
 */
export const behaviorVectorsJob = defineJob({
  name: 'similarity.behavior-vectors',
  payload: z.object({}).strict(),
  async handler(_payload, ctx) {
    ctx.progress(0.05, 'standardizing behaviour vectors');
    const r = await refreshBehaviorVectors(ctx.db, { full: true });
    ctx.progress(1, 'done');
    return r;
  },
});
