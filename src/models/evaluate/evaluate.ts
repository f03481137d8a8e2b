import { DAY_MS, netSpendBetween } from '../../features/features.definitions';
import type { ForestOptions } from '../forest';
import { type History, naiveOf, rfmOf } from '../clv/clv-baselines';
import { type ClvModel, designAt, predictDesign, trainClvForest } from '../clv/clv-forest';
import { type MetricSet, metricSet } from '../clv/clv-metrics';
import { DEFAULT_GRID, DEFAULT_INNER_FOLDS, type Selection, type SelectionRule, type SettingGrid, selectSettings } from './select-settings';

/**
 * An extra group of per-customer features (semantic, events, ...). `at(asOf)` must read only what happened
 * strictly before asOf; customers it leaves out get -1 for every name.
 */
export interface FeatureGroup {
  name: string;
  names: readonly string[];
  at(asOf: number): Map<string, Record<string, number>>;
}

export interface EvaluateOptions {
  cutoff: number;
  horizonDays: number;
  forest?: Partial<ForestOptions>;
  /** Candidate settings for the blind inner validation (default DEFAULT_GRID); one value per axis fixes it. */
  grid?: SettingGrid;
  /** Inner validation periods to average (select-settings.ts; default DEFAULT_INNER_FOLDS). */
  innerFolds?: number;
  /** How the inner validation ranks candidates (default DEFAULT_RULE). */
  rule?: SelectionRule;
  featureGroups?: readonly FeatureGroup[];
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
  featureGroups: string[];
  selection: Selection;
  metrics: Record<'forest' | 'bgnbd_gg' | 'naive', MetricSet>;
  predictions: PredictionRow[];
  model: ClvModel;
}

/** Merges the groups into the forest's `extra` hook, computing each asOf once. */
export function combineGroups(groups: readonly FeatureGroup[]): { extra?: (asOf: number) => Map<string, Record<string, number>>; extraNames: string[] } {
  if (!groups.length) return { extraNames: [] };
  const cache = new Map<number, Map<string, Record<string, number>>>();
  const extra = (asOf: number) => {
    let m = cache.get(asOf);
    if (!m) {
      m = new Map();
      for (const g of groups) {
        for (const [k, v] of g.at(asOf)) m.set(k, { ...m.get(k), ...v });
      }
      cache.set(asOf, m);
    }
    return m;
  };
  return { extra, extraNames: groups.flatMap((g) => [...g.names]) };
}

/**
 * Holdout evaluation on one history. Every model is fitted, every setting chosen and every prediction made from
 * `past`, a copy that holds only events strictly before the cutoff; the full histories are read for exactly one
 * thing, the actual net spend in (cutoff, cutoff + H]. Later events therefore can change the metrics and nothing
 * else (test/unit/evaluate.test.ts checks predictions and the chosen settings).
 */
export function evaluateHistories(histories: readonly History[], opts: EvaluateOptions): EvaluateResult {
  const { cutoff, horizonDays } = opts;
  const past: History[] = histories.map((h) => ({ ...h, events: h.events.filter((e) => e.at < cutoff) }));
  const groups = opts.featureGroups ?? [];
  const { extra, extraNames } = combineGroups(groups);
  const selection = selectSettings(past, cutoff, {
    horizonDays,
    forest: opts.forest,
    grid: opts.grid ?? DEFAULT_GRID,
    innerFolds: opts.innerFolds ?? DEFAULT_INNER_FOLDS,
    rule: opts.rule,
    extra,
    extraNames,
    onProgress: (f, m) => opts.onProgress?.(0.5 * f, m),
  });
  const s = selection.chosen;
  const model = trainClvForest(past, cutoff, {
    horizonDays,
    forest: { ...opts.forest, minSamplesLeaf: s.minSamplesLeaf },
    target: s.target,
    leaf: s.leaf,
    blend: s.blend,
    calibrate: s.calibrateOn !== 'none',
    windows: s.windows,
    extra,
    extraNames,
    onProgress: (f, m) => opts.onProgress?.(0.5 + 0.5 * f, m),
  });
  // Calibrated on the validation period: that (c, w) replaces the one fitted on the training split.
  if (selection.calibration) model.calibration = selection.calibration;
  const design = designAt(past, cutoff, horizonDays, model.baselines, extra?.(cutoff), extraNames);
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
    featureGroups: ['behaviour', ...groups.map((g) => g.name)],
    selection,
    metrics: {
      forest: metricSet(actual, forest),
      bgnbd_gg: metricSet(actual, design.baseline.clv),
      naive: metricSet(actual, naive),
    },
    predictions,
    model,
  };
}
