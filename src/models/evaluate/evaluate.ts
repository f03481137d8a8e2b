import { DAY_MS, netSpendBetween } from '../../features/features.definitions';
import type { ForestOptions } from '../forest';
import { type History, naiveOf, rfmOf } from '../clv/clv-baselines';
import { type ClvModel, designAt, predictDesign, type TargetTransform, trainClvForest } from '../clv/clv-forest';
import { type MetricSet, metricSet } from '../clv/clv-metrics';

export interface EvaluateOptions {
  cutoff: number;
  horizonDays: number;
  forest?: Partial<ForestOptions>;
  target?: TargetTransform;
  windows?: number;
  onProgress?: (fraction: number, message: string) => void;
}

export interface PredictionRow {
  customer: string;
  actual: number;
  forest: number;
  bgnbd: number;
  naive: number;
  pAlive: number;
}

export interface EvaluateResult {
  customers: number;
  cutoff: string;
  horizonDays: number;
  windowDays: number;
  trainingWindows: string[];
  trainingRows: number;
  metrics: Record<'forest' | 'bgnbd_gg' | 'naive', MetricSet>;
  predictions: PredictionRow[];
  model: ClvModel;
}

/**
 * Holdout evaluation on one history. Every model is fitted and every prediction made from `past`, a copy that
 * holds only events strictly before the cutoff; the full histories are read for exactly one thing, the actual
 * net spend in (cutoff, cutoff + H]. Later events therefore can change the metrics and nothing else.
 */
export function evaluateHistories(histories: readonly History[], opts: EvaluateOptions): EvaluateResult {
  const { cutoff, horizonDays } = opts;
  const past: History[] = histories.map((h) => ({ ...h, events: h.events.filter((e) => e.at < cutoff) }));
  const model = trainClvForest(past, cutoff, {
    horizonDays,
    forest: opts.forest,
    target: opts.target,
    windows: opts.windows,
    onProgress: opts.onProgress,
  });
  const design = designAt(past, cutoff, horizonDays, model.baselines);
  const forest = predictDesign(model, design);
  const pastByKey = new Map(past.map((h) => [h.key, h]));
  const fullByKey = new Map(histories.map((h) => [h.key, h]));
  const naive = design.keys.map((k) => naiveOf(rfmOf(pastByKey.get(k)!, cutoff)!, horizonDays));
  const actual = design.keys.map((k) => netSpendBetween(fullByKey.get(k)!.events, cutoff, cutoff + horizonDays * DAY_MS));
  const predictions = design.keys.map((k, i) => ({
    customer: k,
    actual: actual[i]!,
    forest: forest[i]!,
    bgnbd: design.baseline.clv[i]!,
    naive: naive[i]!,
    pAlive: design.baseline.pAlive[i]!,
  }));
  return {
    customers: design.keys.length,
    cutoff: new Date(cutoff).toISOString(),
    horizonDays,
    windowDays: model.plan.h,
    trainingWindows: model.plan.asOfs.map((a) => new Date(a).toISOString().slice(0, 10)),
    trainingRows: model.trainingRows,
    metrics: {
      forest: metricSet(actual, forest),
      bgnbd_gg: metricSet(actual, design.baseline.clv),
      naive: metricSet(actual, naive),
    },
    predictions,
    model,
  };
}
