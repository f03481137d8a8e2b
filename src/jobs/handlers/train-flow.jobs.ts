import { buildTrainingRows, loadHistoryRange, loadPayload, mergePayload, mergeTraining, rowsPayload, TREE_ATTEMPTS, trainTreesShare, treesPayload } from '../flows/train.flow';
import { defineJob } from '../job.types';

/** Child of a fan-out training's first flow: loads one customer-id range's histories (src/jobs/flows/train.flow.ts). */
export const trainLoadJob = defineJob({
  name: 'models.train-load',
  maxAttempts: TREE_ATTEMPTS,
  payload: loadPayload,
  handler: (p, ctx) => loadHistoryRange(ctx, p),
});

/** Parent of the first flow: training rows from the loaded histories, then the tree flow (one job per run). */
export const trainRowsJob = defineJob({
  name: 'models.train-rows',
  maxAttempts: 1,
  payload: rowsPayload,
  handler: (p, ctx) => buildTrainingRows(ctx, p),
});

/** Child of a fan-out training flow: grows one share of the forests' trees (see src/jobs/flows/train.flow.ts). */
export const trainTreesJob = defineJob({
  name: 'models.train-trees',
  maxAttempts: TREE_ATTEMPTS,
  payload: treesPayload,
  handler: (p, ctx) => trainTreesShare(ctx, p),
});

/** Parent of a fan-out training flow: runs once every share has finished; finishes the models.train run. */
export const trainMergeJob = defineJob({
  name: 'models.train-merge',
  maxAttempts: 1,
  payload: mergePayload,
  handler: (p, ctx) => mergeTraining(ctx, p),
});

export const trainFlowJobs = [trainLoadJob, trainRowsJob, trainTreesJob, trainMergeJob];
