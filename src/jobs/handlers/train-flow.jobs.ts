import { TREE_ATTEMPTS, trainTreesShare, treesPayload } from '../flows/train.flow';
import { fitPayload, fitStoredSamples } from '../flows/train-fits';
import { defineJob } from '../job.types';

/** A share of a fan-out training's trees, queued by the coordinating models.train job (src/jobs/flows/train.flow.ts). */
export const trainTreesJob = defineJob({
  name: 'models.train-trees',
  maxAttempts: TREE_ATTEMPTS,
  payload: treesPayload,
  handler: (p, ctx) => trainTreesShare(ctx, p),
});

/** Half of a fan-out training's baseline fits, from samples the coordinating models.train job stored (train-fits.ts). */
export const trainFitJob = defineJob({
  name: 'models.train-fit',
  maxAttempts: 1,
  payload: fitPayload,
  handler: (p, ctx) => fitStoredSamples(ctx, p),
});

export const trainFlowJobs = [trainTreesJob, trainFitJob];
