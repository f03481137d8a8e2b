import { DAY_MS, netSpendBetween } from '../../features/features.definitions';
import { historyBatches } from '../../features/feature-store.service';
import { loadSemanticFeatures } from '../../features/semantic.adapter';
import type { PrismaClient } from '../../generated/prisma/client';
import { type ForestOptions, featureImportances, serializeForest } from '../forest';
import { type History, naiveOf, rfmOf } from '../clv/clv-baselines';
import { type ClvModel, type ClvTrainOptions, designAt, type ForestTrainer, fitBaselinesAt, hashKey, planWindows, firstEventOf, predictDesign, type TargetTransform, trainClvForest } from '../clv/clv-forest';
import { type MetricKey, type MetricSet, metricSet } from '../clv/clv-metrics';
import { promoteIfBetter } from './registry.service';

export const MODEL_KIND = 'clv-forest';

/** Thrown by a ForestTrainer that hands the training rows to other workers instead of growing the forest here. */
export class TrainingHandedOff extends Error {
  constructor() {
    super('training rows handed to tree workers');
    this.name = 'TrainingHandedOff';
  }
}

export interface TrainRequest {
  horizonDays: number;
  cutoff?: Date;
  force?: boolean;
  metric?: MetricKey;
  target?: TargetTransform;
  forest?: Partial<ForestOptions>;
  /** Share of customers kept out of training to compare the models on (default 0.2). */
  holdoutFraction?: number;
  jobRunId?: string;
  /** Fault injection for tests and drills: throw right after the version row is written. */
  failAfterVersionRow?: boolean;
}

export interface TrainOutcome {
  modelVersionId: number;
  promoted: boolean;
  reason: string;
  metrics: Record<string, MetricSet>;
  trainingRows: number;
}

interface Hooks {
  progress(fraction: number, message?: string): void;
  signal?: AbortSignal;
  /** Scale-out (train-flow.ts): the forests are grown by other workers; see ClvTrainOptions.trainForest. */
  trainForest?: ForestTrainer;
  /** Scale-out: baseline fits computed by other workers (ClvTrainOptions.fitBaselines). */
  fitBaselines?: ClvTrainOptions['fitBaselines'];
  /** Scale-out: the histories before the cutoff, loaded by other workers (same order as loadAllHistories). */
  histories?: History[];
  /** Scale-out: the capture's window designs, reused by the replay (ClvTrainOptions.windowCache). */
  windowCache?: ClvTrainOptions['windowCache'];
}

export async function loadAllHistories(db: PrismaClient, before: Date, onBatch?: (loaded: number) => void): Promise<History[]> {
  const out: History[] = [];
  for await (const b of historyBatches(db, { before, batchSize: 5000 })) {
    out.push(...b.histories);
    onBatch?.(out.length);
  }
  return out;
}

/**
 * One training run: a 'training' version row first, then the forest (learning from windows before the cutoff,
 * see clv-forest.ts), the comparison of every model on the same held-out customers, and only at the very end
 * the ready status and the promotion (one transaction). Whatever fails or is killed before that leaves the
 * champion as it was and the version 'training' or 'failed'.
 */
export async function trainModelVersion(db: PrismaClient, req: TrainRequest, hooks: Hooks): Promise<TrainOutcome> {
  const cutoff = req.cutoff ?? new Date();
  const checkAbort = () => {
    if (hooks.signal?.aborted) throw new Error('training aborted (worker shutting down)');
  };
  hooks.progress(0.01, 'loading histories');
  const histories = hooks.histories ?? (await loadAllHistories(db, cutoff));
  const trainKeys = trainingKeys(histories, req);
  const params = { target: req.target ?? 'log1p', forest: req.forest ?? {}, holdoutEvery: holdoutEveryOf(req), metric: req.metric ?? 'normalizedGini' };
  const version = await upsertTrainingVersion(db, req, cutoff, params);
  if (req.failAfterVersionRow) throw new Error('planned failure after writing the version row');
  try {
    checkAbort();
    const inputs = await clvInputs(db, req, histories, cutoff, trainKeys);
    const { extraNames, extraAt, semantic } = inputs;
    checkAbort();
    const model = trainClvForest(histories, cutoff.getTime(), {
      ...inputs.options,
      onProgress: (f, m) => hooks.progress(0.05 + 0.8 * f, m),
      trainForest: hooks.trainForest,
      fitBaselines: hooks.fitBaselines,
      windowCache: hooks.windowCache,
    });
    checkAbort();
    hooks.progress(0.88, 'holdout comparison');
    const metrics = holdoutMetrics(histories, model, trainKeys, extraNames.length ? extraAt(model.plan.asOfs[0]!) : undefined, extraNames, hooks.fitBaselines);
    const imp = featureImportances(model.forest);
    const artifact = serializeForest(model.forest);
    await db.modelVersion.update({
      where: { id: version.id },
      data: {
        status: 'ready',
        params: {
          ...params,
          windowDays: model.plan.h,
          windows: model.plan.asOfs.map((a) => new Date(a).toISOString()),
          scale: model.plan.scale,
          calibration: { ...model.calibration },
          baselines: model.baselines as object,
          semantic: semantic.get(cutoff.getTime())!.note,
          holdoutCustomers: histories.length - trainKeys.size,
        },
        metrics: metrics as object,
        featureNames: model.featureNames,
        featureImportances: Object.fromEntries(model.featureNames.map((n, i) => [n, imp[i]!])),
        embeddingModel: semantic.get(cutoff.getTime())!.model,
        trainingRows: model.trainingRows,
        artifact: Buffer.from(artifact),
        artifactBytes: artifact.byteLength,
      },
    });
    await markFinished(db, version.id);
    checkAbort();
    const promo = await promoteIfBetter(db, version.id, { force: req.force, metric: req.metric });
    hooks.progress(0.95, promo.promoted ? 'promoted' : `not promoted: ${promo.reason}`);
    return { modelVersionId: version.id, promoted: promo.promoted, reason: promo.reason, metrics, trainingRows: model.trainingRows };
  } catch (err) {
    // Scale-out's prepare step stops here on purpose once it has the training rows: the version stays 'training'.
    if (err instanceof TrainingHandedOff) throw err;
    await db.modelVersion.update({
      where: { id: version.id },
      data: { status: 'failed', error: err instanceof Error ? err.message : String(err) },
    });
    await markFinished(db, version.id);
    throw err;
  }
}

const holdoutEveryOf = (req: TrainRequest) => Math.max(2, Math.round(1 / (req.holdoutFraction ?? 0.2)));

/** The customers whose windows train the forest; the others are held out for the comparison. */
export function trainingKeys(histories: readonly History[], req: TrainRequest): Set<string> {
  const every = holdoutEveryOf(req);
  return new Set(histories.filter((h) => hashKey(h.key) % every !== 0).map((h) => h.key));
}

/**
 * Everything trainClvForest is given for a request besides the hooks: the semantic features of every window
 * included. Scale-out's tree jobs build their training rows through this too, so they are the run's rows.
 */
export async function clvInputs(db: PrismaClient, req: TrainRequest, histories: readonly History[], cutoff: Date, trainKeys: ReadonlySet<string>) {
  const plan = planWindows(firstEventOf(histories, cutoff.getTime()), cutoff.getTime(), req.horizonDays);
  const semantic = new Map<number, Awaited<ReturnType<typeof loadSemanticFeatures>>>();
  for (const asOf of [...plan.asOfs, cutoff.getTime()]) semantic.set(asOf, await loadSemanticFeatures(db, { asOf: new Date(asOf) }));
  const extraNames = [...new Set([...semantic.values()].flatMap((s) => [...s.values.values()].flatMap((r) => Object.keys(r))))].sort();
  const extraAt = (asOf: number) => new Map([...(semantic.get(asOf)?.values ?? new Map()).entries()].map(([k, v]) => [String(k), v]));
  const options: ClvTrainOptions = { horizonDays: req.horizonDays, target: req.target, forest: req.forest, trainKeys: new Set(trainKeys), extra: extraNames.length ? extraAt : undefined, extraNames };
  return { semantic, extraNames, extraAt, options };
}

/**
 * A retried run reuses its own row (same job run id) instead of leaving orphans behind. Timestamps travel as
 * ISO text with casts: Date objects crossing the worker-thread bridge fail PGlite's `instanceof Date` check
 * when the host runs inside another JS realm (jest's vm).
 */
async function upsertTrainingVersion(db: PrismaClient, req: TrainRequest, cutoff: Date, params: object): Promise<{ id: number }> {
  const existing = req.jobRunId ? await db.modelVersion.findFirst({ where: { jobRunId: req.jobRunId, kind: MODEL_KIND }, select: { id: true } }) : null;
  if (existing) {
    await db.$executeRaw`update model_versions set status = 'training', error = null, params = ${JSON.stringify(params)}::jsonb,
      cutoff = ${cutoff.toISOString()}::timestamptz, horizon_days = ${req.horizonDays} where id = ${existing.id}`;
    return existing;
  }
  const [row] = await db.$queryRaw<{ id: number }[]>`
    insert into model_versions (kind, status, horizon_days, cutoff, params, job_run_id)
    values (${MODEL_KIND}, 'training', ${req.horizonDays}, ${cutoff.toISOString()}::timestamptz, ${JSON.stringify(params)}::jsonb,
      ${req.jobRunId ?? null}::uuid)
    returning id`;
  return row!;
}

async function markFinished(db: PrismaClient, id: number): Promise<void> {
  await db.$executeRaw`update model_versions set finished_at = now() where id = ${id}`;
}

/**
 * Every model on the same held-out customers in the most recent training window: features as of a = T − h,
 * actual = net spend in (a, T] scaled to the horizon. None of these customers contributed a training row.
 */
function holdoutMetrics(
  histories: readonly History[],
  model: ClvModel,
  trainKeys: ReadonlySet<string>,
  extra: Map<string, Record<string, number>> | undefined,
  extraNames: readonly string[],
  fit?: ClvTrainOptions['fitBaselines'],
): Record<string, MetricSet> {
  const asOf = model.plan.asOfs[0]!;
  const holdout = new Set(histories.filter((h) => !trainKeys.has(h.key)).map((h) => h.key));
  const design = designAt(histories, asOf, model.horizonDays, (fit ?? fitBaselinesAt)(histories, asOf), extra, extraNames, holdout);
  if (design.keys.length < 2) return {};
  const byKey = new Map(histories.map((h) => [h.key, h]));
  const actual = design.keys.map((k) => netSpendBetween(byKey.get(k)!.events, asOf, asOf + model.plan.h * DAY_MS) * model.plan.scale);
  const forest = predictDesign(model, design);
  const naive = design.keys.map((k) => naiveOf(rfmOf(byKey.get(k)!, asOf)!, model.horizonDays));
  return { forest: metricSet(actual, forest), bgnbd_gg: metricSet(actual, design.baseline.clv), naive: metricSet(actual, naive) };
}
