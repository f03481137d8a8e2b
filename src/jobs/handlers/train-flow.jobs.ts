import { TREE_ATTEMPTS, trainTreesShare, treesPayload } from '../flows/train.flow';
import { defineJob } from '../job.types';

/** A tree worker of a fan-out training, queued by the coordinating models.train job (src/jobs/flows/train.flow.ts). */
export const trainTreesJob = defineJob({
  name: 'models.train-trees',
  maxAttempts: TREE_ATTEMPTS,
  payload: treesPayload,
  handler: (p, ctx) => trainTreesShare(ctx, p),
});

export const trainFlowJobs = [trainTreesJob];
