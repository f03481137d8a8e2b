import { embedRange, fanoutPayload, finishEmbedFlow, finishPayload, rangePayload, startEmbedFlow } from '../flows/embed.flow';
import { flowsAvailable } from '../flows/flow';
import { defineJob } from '../job.types';

/**
 * Embeds every comment lacking a vector with `shares` jobs spread over the BullMQ workers (src/jobs/flows/
 * embed.flow.ts). Without BullMQ one job does the same claimed embedding (so concurrent runs still never embed
 * a comment twice).
 */
export const embedFanoutJob = defineJob({
  name: 'embeddings.embed-fanout',
  payload: fanoutPayload,
  handler: (p, ctx) => startEmbedFlow(ctx, p, flowsAvailable()),
});

export const embedRangeJob = defineJob({ name: 'embeddings.embed-range', maxAttempts: 3, payload: rangePayload, handler: (p, ctx) => embedRange(ctx, p) });

export const embedFinishJob = defineJob({ name: 'embeddings.embed-finish', maxAttempts: 1, payload: finishPayload, handler: (p, ctx) => finishEmbedFlow(ctx, p) });

export const embedFlowJobs = [embedFanoutJob, embedRangeJob, embedFinishJob];
