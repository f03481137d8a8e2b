import { CronExpressionParser } from 'cron-parser';
import { ConfigError, type Env } from '../../config/env';
import type { JobRun, PrismaClient } from '../../generated/prisma/client';
import { Prisma } from '../../generated/prisma/client';
import type { Logger } from '../../lib/logger';
import { TRAIN_DEDUPE_KEY } from '../../jobs/handlers/train-model.job';
import { getJob, parsePayload } from '../../jobs/registry';

/**
 * Scheduled retraining (RETRAIN_CRON). Each fire of the cron becomes one durable models.train JobRun whose
 * cutoff is the fire time. Two guards, both under enqueue's own advisory lock for TRAIN_DEDUPE_KEY (so they
 * also serialise with retrainModel requests):
 *   - one run per fire: a run whose payload carries this fire's `scheduledFor` is returned, not duplicated
 *     (two schedulers racing, a fire job retried);
 *   - one training at a time: an active models.train run absorbs the fire (as retrainModel requests are).
 * Transports: BullMQ (src/jobs/schedules.ts) fires through a job scheduler in Redis; in-process, a timer here.
 */
export interface RetrainConfig {
  cron: string;
  horizonDays: number;
  options: Record<string, unknown>;
}

export function retrainConfigFromEnv(env: Pick<Env, 'RETRAIN_CRON' | 'RETRAIN_HORIZON_DAYS' | 'RETRAIN_OPTIONS'>): RetrainConfig | null {
  if (!env.RETRAIN_CRON) return null;
  return { cron: env.RETRAIN_CRON, horizonDays: env.RETRAIN_HORIZON_DAYS, options: env.RETRAIN_OPTIONS ?? {} };
}

/** Start-up check of RETRAIN_OPTIONS against the models.train payload: the error names the variable and field. */
export function validateRetrainConfig(cfg: RetrainConfig): void {
  try {
    parsePayload('models.train', { horizonDays: cfg.horizonDays, options: cfg.options });
  } catch (err) {
    const issues = (err as { details?: { issues?: { field: string; message: string }[] } }).details?.issues ?? [];
    throw new ConfigError('RETRAIN_OPTIONS', issues.map((i) => `${i.field.replace(/^options\.?/, '') || 'options'}: ${i.message}`).join('; ') || (err as Error).message);
  }
}

/** Throws cron-parser's message for an invalid expression (5 fields, or 6 with seconds first). */
export function nextFireAfter(cron: string, after: Date): Date {
  return CronExpressionParser.parse(cron, { currentDate: after, tz: 'UTC' }).next().toDate();
}

/** The latest fire at or before `at` (a fire exactly at `at` counts). */
export function latestFireAtOrBefore(cron: string, at: Date): Date {
  return CronExpressionParser.parse(cron, { currentDate: new Date(at.getTime() + 1), tz: 'UTC' }).prev().toDate();
}

export interface ScheduledEnqueue {
  run: JobRun;
  created: boolean;
  reason: 'created' | 'fire already has a run' | 'training already active';
}

export async function enqueueScheduledRetrain(prisma: PrismaClient, fire: Date, cfg: RetrainConfig): Promise<ScheduledEnqueue> {
  const firedAt = fire.toISOString();
  const payload = parsePayload('models.train', { horizonDays: cfg.horizonDays, cutoff: firedAt, scheduledFor: firedAt, options: cfg.options });
  const maxAttempts = getJob('models.train').maxAttempts ?? 1;
  return prisma.$transaction(async (tx) => {
    await tx.$executeRaw`select pg_advisory_xact_lock(hashtextextended(${TRAIN_DEDUPE_KEY}, 7))`;
    const same = await tx.$queryRaw<{ id: string }[]>`
      select id::text as id from job_runs where name = 'models.train' and payload->>'scheduledFor' = ${firedAt} limit 1`;
    if (same.length) return { run: await tx.jobRun.findUniqueOrThrow({ where: { id: same[0]!.id } }), created: false, reason: 'fire already has a run' as const };
    const active = await tx.jobRun.findFirst({ where: { dedupeKey: TRAIN_DEDUPE_KEY, state: { in: ['queued', 'running'] } }, orderBy: { createdAt: 'asc' } });
    if (active) return { run: active, created: false, reason: 'training already active' as const };
    const run = await tx.jobRun.create({
      data: { name: 'models.train', dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts, payload: JSON.parse(JSON.stringify(payload)) as Prisma.InputJsonValue },
    });
    return { run, created: true, reason: 'created' as const };
  });
}

/**
 * Catch-up at start-up: fires missed while no scheduler ran (every process down, a deploy across the fire time)
 * collapse into ONE run for the latest fire at or before `now` — a model trained on the latest cutoff supersedes
 * the ones the earlier fires would have made. Only when this schedule has fired before (some run carries a
 * scheduledFor): configuring RETRAIN_CRON for the first time must not start a training at once. Safe to call from
 * every worker at once: enqueueScheduledRetrain keeps one run per fire and absorbs it into an active training.
 * ISO-8601 UTC strings of one format compare like the instants they name, hence max() on the text.
 */
export async function catchUpMissedFire(prisma: PrismaClient, cfg: RetrainConfig, now = new Date()): Promise<ScheduledEnqueue | null> {
  const fire = latestFireAtOrBefore(cfg.cron, now);
  const [last] = await prisma.$queryRaw<{ last: string | null }[]>`
    select max(payload->>'scheduledFor') as last from job_runs where name = 'models.train' and payload ? 'scheduledFor'`;
  if (!last?.last || last.last >= fire.toISOString()) return null;
  return enqueueScheduledRetrain(prisma, fire, cfg);
}

/** Largest delay setTimeout accepts; a later fire re-arms in steps. */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * In-process transport: a timer at the next fire time. The run is written to job_runs and the dispatcher claims
 * it on its next poll. Fires missed while the process was down are replayed once at start (catchUpMissedFire).
 */
export function startRetrainTimer(o: {
  prisma: PrismaClient;
  log: Logger;
  cfg: RetrainConfig;
  onFire?: (r: ScheduledEnqueue) => void;
  /** Replay the latest missed fire at start (default true). */
  catchUp?: boolean;
}): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = (after: Date) => {
    if (stopped) return;
    const next = nextFireAfter(o.cfg.cron, after);
    const wait = next.getTime() - Date.now();
    if (wait > MAX_DELAY) {
      timer = setTimeout(() => arm(after), MAX_DELAY);
      return;
    }
    timer = setTimeout(() => {
      enqueueScheduledRetrain(o.prisma, next, o.cfg)
        .then((r) => {
          o.log.info({ fire: next.toISOString(), runId: r.run.id, outcome: r.reason }, 'scheduled retraining');
          o.onFire?.(r);
        })
        .catch((err) => o.log.error({ err: (err as Error).message, fire: next.toISOString() }, 'scheduled retraining could not be enqueued'))
        .finally(() => arm(new Date(Math.max(Date.now(), next.getTime()))));
    }, Math.max(0, wait));
    timer.unref();
  };
  if (o.catchUp !== false) {
    catchUpMissedFire(o.prisma, o.cfg)
      .then((r) => r && o.log.info({ fire: (r.run.payload as { scheduledFor?: string }).scheduledFor, runId: r.run.id, outcome: r.reason }, 'missed scheduled retraining replayed'))
      .catch((err) => o.log.error({ err: (err as Error).message }, 'missed scheduled retraining could not be checked'));
  }
  arm(new Date());
  o.log.info({ cron: o.cfg.cron, horizonDays: o.cfg.horizonDays }, 'retraining scheduled');
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
