import { z } from 'zod';
import { METRIC_KEYS } from '../../models/clv/clv-metrics';
import { scoreCustomers } from '../../models/scoring/score.service';
import { trainModelVersion } from '../../models/training/train.service';
import { defineJob } from '../job.types';
import { parseEnv } from '../../config/env';
import { flowsAvailable } from '../flows/flow';
import { defaultFanout, flowDrill, startTrainingFlow } from '../flows/train.flow';

export const TRAIN_DEDUPE_KEY = 'models.train';

/**
 * Trains a CLV forest version, compares it with the baselines on held-out customers, promotes it when it beats
 * the champion (or when forced) and then scores every customer with the new champion in the same run, so a
 * promotion is never left without scores. Enqueued with TRAIN_DEDUPE_KEY: concurrent requests share one run.
 */
export const trainModelJob = defineJob({
  name: 'models.train',
  maxAttempts: 1,
  payload: z.object({
    horizonDays: z.number().int().min(1).max(3650).default(365),
    cutoff: z.coerce.date().optional(),
    /** Set by scheduled retraining (RETRAIN_CRON): the fire this run belongs to, one run per fire. */
    scheduledFor: z.coerce.date().optional(),
    options: z
      .object({
        force: z.boolean().default(false),
        metric: z.enum(METRIC_KEYS).optional(),
        target: z.enum(['log1p', 'raw']).optional(),
        holdoutFraction: z.number().min(0.05).max(0.5).optional(),
        nEstimators: z.number().int().min(1).max(1000).optional(),
        maxDepth: z.number().int().min(1).max(64).optional(),
        minSamplesLeaf: z.number().int().min(1).optional(),
        maxFeatures: z.number().gt(0).max(1).optional(),
        sampleFraction: z.number().gt(0).max(1).optional(),
        seed: z.number().int().optional(),
        score: z.boolean().default(true),
        failAfterVersionRow: z.boolean().default(false),
        // == scale-out: participants growing the trees (BullMQ only; default TRAIN_FANOUT, capped: defaultFanout) ==
        fanout: z.number().int().min(1).max(64).optional(),
        drill: flowDrill.optional(),
      })
      .default({ force: false, score: true, failAfterVersionRow: false }),
  }),
  async handler({ horizonDays, cutoff, options: all }, ctx) {
    // == scale-out: with BullMQ and a fan-out > 1 this job only prepares; a flow grows, merges and promotes ==
    const { fanout, drill, ...options } = all;
    const shares = flowsAvailable() ? (fanout ?? defaultFanout(parseEnv(process.env).TRAIN_FANOUT, options.nEstimators)) : 1;
    if (shares > 1) return startTrainingFlow(ctx, { horizonDays, cutoff, options, drill }, shares);
    const { force, metric, target, holdoutFraction, score, failAfterVersionRow, ...forest } = options;
    const out = await trainModelVersion(
      ctx.db,
      { horizonDays, cutoff, force, metric, target, holdoutFraction, forest, jobRunId: ctx.runId, failAfterVersionRow },
      { progress: (f, m) => ctx.progress(score ? f * 0.7 : f, m), signal: ctx.signal },
    );
    let scored = 0;
    if (out.promoted && score) {
      const s = await scoreCustomers(ctx.db, { modelVersionId: out.modelVersionId, signal: ctx.signal, onProgress: (f, m) => ctx.progress(0.7 + 0.3 * f, m) });
      scored = s.scored;
    }
    ctx.progress(1, 'done');
    return { modelVersionId: out.modelVersionId, promoted: out.promoted, reason: out.reason, trainingRows: out.trainingRows, scored };
  },
});
