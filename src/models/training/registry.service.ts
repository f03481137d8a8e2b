import type { PrismaClient } from '../../generated/prisma/client';
import { DomainError } from '../../lib/errors';
import { isBetter, METRIC_KEYS, type MetricKey } from '../clv/clv-metrics';

export interface PromotionResult {
  promoted: boolean;
  reason: string;
  previousChampionId: number | null;
}

export function championMetric(explicit?: string): MetricKey {
  const m = explicit ?? process.env.CHAMPION_METRIC ?? 'normalizedGini';
  if (!(METRIC_KEYS as readonly string[]).includes(m)) throw new DomainError('BAD_USER_INPUT', `unknown metric "${m}" (one of ${METRIC_KEYS.join(', ')})`);
  return m as MetricKey;
}

function forestMetric(metrics: unknown, metric: MetricKey): number {
  const v = (metrics as Record<string, Record<string, number>> | null)?.forest?.[metric];
  return typeof v === 'number' ? v : NaN;
}

/**
 * Makes a ready version champion of its kind if it beats the current champion's holdout metric (or when forced).
 * One transaction under an advisory lock per kind: two promotions never interleave, and the champion row
 * changes all at once or not at all.
 */
export async function promoteIfBetter(db: PrismaClient, versionId: number, opts: { force?: boolean; metric?: string } = {}): Promise<PromotionResult> {
  const metric = championMetric(opts.metric);
  return db.$transaction(async (tx) => {
    const v = await tx.modelVersion.findUnique({ where: { id: versionId }, select: { id: true, kind: true, status: true, metrics: true } });
    if (!v) throw new DomainError('NOT_FOUND', `model version ${versionId} not found`);
    if (v.status !== 'ready') throw new DomainError('CONFLICT', `model version ${versionId} is ${v.status}, only ready versions can be promoted`);
    await tx.$executeRaw`select pg_advisory_xact_lock(hashtext(${`model-champion:${v.kind}`}))`;
    const champ = await tx.modelChampion.findUnique({ where: { kind: v.kind }, include: { modelVersion: { select: { metrics: true } } } });
    if (champ?.modelVersionId === v.id) return { promoted: false, reason: 'already champion', previousChampionId: v.id };
    const mine = forestMetric(v.metrics, metric);
    const theirs = champ ? forestMetric(champ.modelVersion.metrics, metric) : NaN;
    if (champ && !opts.force && !isBetter(metric, mine, theirs)) {
      return { promoted: false, reason: `${metric} ${fmt(mine)} does not beat champion ${champ.modelVersionId} (${fmt(theirs)})`, previousChampionId: champ.modelVersionId };
    }
    // promoted_at from the database clock (no Date parameter: see upsertTrainingVersion on worker-thread dates).
    await tx.$executeRaw`
      insert into model_champions (kind, model_version_id) values (${v.kind}, ${v.id})
      on conflict (kind) do update set model_version_id = excluded.model_version_id, promoted_at = now()`;
    const reason = !champ ? 'first champion' : opts.force ? 'forced' : `${metric} ${fmt(mine)} beats ${fmt(theirs)}`;
    return { promoted: true, reason, previousChampionId: champ?.modelVersionId ?? null };
  });
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : 'n/a');

export async function championOf(db: PrismaClient, kind: string) {
  const c = await db.modelChampion.findUnique({ where: { kind } });
  return c ? db.modelVersion.findUnique({ where: { id: c.modelVersionId } }) : null;
}
