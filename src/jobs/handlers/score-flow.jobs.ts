import { completeScoreFlow, finishScoreFlow, scoreCompletePayload, scoreFanoutPayload, scoreFinishPayload, scoreRange, scoreRangePayload, scoreSegmentsPayload, segmentRange, startScoreFlow } from '../flows/score.flow';
import { flowsAvailable } from '../flows/flow';
import { defineJob } from '../job.types';

/** Scores every customer with `shares` jobs spread over the BullMQ workers (src/jobs/flows/score.flow.ts); one job without BullMQ. */
export const scoreFanoutJob = defineJob({ name: 'models.score-fanout', payload: scoreFanoutPayload, handler: (p, ctx) => startScoreFlow(ctx, p, flowsAvailable()) });

export const scoreRangeJob = defineJob({ name: 'models.score-range', maxAttempts: 3, payload: scoreRangePayload, handler: (p, ctx) => scoreRange(ctx, p) });

export const scoreFinishJob = defineJob({ name: 'models.score-finish', maxAttempts: 1, payload: scoreFinishPayload, handler: (p, ctx) => finishScoreFlow(ctx, p) });

export const scoreSegmentsJob = defineJob({ name: 'models.score-segments', maxAttempts: 3, payload: scoreSegmentsPayload, handler: (p, ctx) => segmentRange(ctx, p) });

export const scoreCompleteJob = defineJob({ name: 'models.score-complete', maxAttempts: 1, payload: scoreCompletePayload, handler: (p, ctx) => completeScoreFlow(ctx, p) });

export const scoreFlowJobs = [scoreFanoutJob, scoreRangeJob, scoreFinishJob, scoreSegmentsJob, scoreCompleteJob];
