import { type Job, Queue, Worker } from 'bullmq';
import type { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../lib/logger';
import { catchUpMissedFire, enqueueScheduledRetrain, type RetrainConfig } from '../models/training/retrain-schedule';
import { QUEUE_NAME, bullJobOptions, redisConnection } from './bullmq.transport';

export const SCHEDULE_QUEUE = 'schedules';
export const RETRAIN_SCHEDULER_ID = 'retrain';

interface RetrainFireData {
  horizonDays: number;
  options: Record<string, unknown>;
}

/**
 * BullMQ side of scheduled retraining. Every worker process upserts the same job scheduler (id "retrain") in a
 * small queue of its own, so N workers still make one scheduler and one job per fire; whichever worker takes the
 * fire writes the models.train run (enqueueScheduledRetrain: one run per fire, none while a training is active)
 * and hands it to the jobs queue. Without RETRAIN_CRON the scheduler is removed, so dropping the variable and
 * restarting the workers stops the schedule. The fire's processor runs inline: it is two queries and an add.
 */
export async function startBullSchedules(o: {
  prisma: PrismaClient;
  log: Logger;
  redisUrl: string;
  prefix: string;
  retrain: RetrainConfig | null;
}): Promise<{ close(): Promise<void> }> {
  const connection = redisConnection(o.redisUrl, true);
  const schedules = new Queue(SCHEDULE_QUEUE, { connection, prefix: o.prefix });
  if (!o.retrain) {
    if (await schedules.removeJobScheduler(RETRAIN_SCHEDULER_ID)) o.log.info('RETRAIN_CRON unset: retraining schedule removed');
    await schedules.close();
    return { close: async () => {} };
  }
  await schedules.upsertJobScheduler(
    RETRAIN_SCHEDULER_ID,
    { pattern: o.retrain.cron, tz: 'UTC' },
    {
      name: 'models.train.fire',
      data: { horizonDays: o.retrain.horizonDays, options: o.retrain.options } satisfies RetrainFireData,
      opts: { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { count: 100 }, removeOnFail: { count: 500 } },
    },
  );
  const jobs = new Queue(QUEUE_NAME, { connection, prefix: o.prefix });
  const worker = new Worker<RetrainFireData>(
    SCHEDULE_QUEUE,
    async (job: Job<RetrainFireData>) => {
      // prevMillis is the fire time BullMQ computed from the pattern (also in the job id, repeat:retrain:<ms>).
      const fire = new Date(job.opts.prevMillis ?? Number(String(job.id).split(':').pop()) ?? job.timestamp);
      const r = await enqueueScheduledRetrain(o.prisma, fire, { cron: '', horizonDays: job.data.horizonDays, options: job.data.options });
      // A failed add is not lost: the run is queued in job_runs and the reconciler hands it over.
      if (r.created) await jobs.add(r.run.name, { runId: r.run.id, payload: r.run.payload }, bullJobOptions(r.run));
      o.log.info({ fire: fire.toISOString(), runId: r.run.id, outcome: r.reason }, 'scheduled retraining');
      return { runId: r.run.id, outcome: r.reason };
    },
    { connection, prefix: o.prefix, concurrency: 1 },
  );
  worker.on('error', (err) => o.log.warn({ err: err.message }, 'schedule worker error'));
  // BullMQ runs one overdue fire when workers come back (the scheduler's pending delayed job, at its own, older
  // time); the latest missed fire is replayed here. Whichever comes second is absorbed by the active training.
  try {
    const r = await catchUpMissedFire(o.prisma, o.retrain);
    if (r?.created) await jobs.add(r.run.name, { runId: r.run.id, payload: r.run.payload }, bullJobOptions(r.run));
    if (r) o.log.info({ fire: (r.run.payload as { scheduledFor?: string }).scheduledFor, runId: r.run.id, outcome: r.reason }, 'missed scheduled retraining replayed');
  } catch (err) {
    o.log.error({ err: (err as Error).message }, 'missed scheduled retraining could not be checked');
  }
  o.log.info({ cron: o.retrain.cron, horizonDays: o.retrain.horizonDays }, 'retraining scheduled');
  return {
    async close() {
      await worker.close();
      await jobs.close();
      await schedules.close();
    },
  };
}
