import { DAY_MS, netSpendBetween } from '../../features/features.definitions';
import type { ForestOptions } from '../forest';
import { type History, naiveOf, rfmOf } from '../clv/clv-baselines';
import { type Calibration, designAt, firstEventOf, fitCalibration, hashKey, type LeafValue, predictDesign, type TargetTransform, trainClvForest } from '../clv/clv-forest';
import { mae, normalizedGini } from '../metrics';

/**
 * Blind setting selection for `evaluate`. Every choice the evaluation makes (target transform, min leaf, blend
 * with the stacked BG/NBD CLV or multiplier only, where that calibration is fitted) is taken by an inner
 * validation that lies entirely before the cutoff T:
 *
 *   validation cutoff V = T − v (v = min(H, history/3));
 *   candidates learn from windows that end at or before V (features as of a, labels in (a, a+h], h ≤ V − first)
 *   and predict customers as of V; they are scored against the net spend in (V, T], scaled to H.
 *
 * The goal is a forest that beats both baselines on normalized Gini (the champion metric) AND on MAE, so only
 * candidates that beat both baselines on both metrics in this inner validation are eligible, when any does;
 * among them the best Gini wins, settings within GINI_TIE of it count as tied and MAE decides among them. When
 * none is eligible, the same rule runs over every candidate. The caller then refits the winner on the latest
 * windows before T.
 */
export interface Setting {
  target: TargetTransform;
  /**
   * What the leaves predict: the mean (least squares) or the median of their training labels. MAE is minimised
   * by the conditional median, and CLV labels are zero-inflated and heavy-tailed, where the two differ a lot.
   */
  leaf: LeafValue;
  minSamplesLeaf: number;
  /** Training windows asked for: 3 (h/3 apart) or more, closer together; fewer when the history is short. */
  windows: number;
  /** Calibration may blend in the stacked BG/NBD CLV (true) or only rescale the forest (false). */
  blend: boolean;
  /**
   * Where the calibration (c, w) is fitted: 'training', on a 20 % customer split of the training windows (the
   * forest's own default); 'validation', on the inner validation period, i.e. on a time split like the real
   * task. A 'validation' candidate is scored by 2-fold cross-fitting over customers (each half is predicted with
   * the (c, w) fitted on the other half), so it is not graded on the data that fitted it.
   */
  calibrateOn: 'training' | 'validation';
}

export interface SettingGrid {
  targets: readonly TargetTransform[];
  /** Leaf statistics to compare (default ['mean'], the behaviour before the axis existed). */
  leaves?: readonly LeafValue[];
  minSamplesLeaf: readonly number[];
  windows: readonly number[];
  blend: readonly boolean[];
  calibrateOn: readonly Setting['calibrateOn'][];
}

/**
 * 'validation' calibration is supported but not in the default grid: its inner score is optimistic in a way
 * cross-fitting over customers cannot fix. Both folds share the validation period, so (c, w) is tuned to that
 * period's spending level and scored on the same period, whereas in the real task it is applied to the next one
 * (another season). Under the both-baselines rule, where MAE gates eligibility, that bias would pick it for the
 * wrong reason; calibrating on the training windows is scored out of period, like the final model.
 */
export const DEFAULT_GRID: SettingGrid = { targets: ['log1p', 'raw'], leaves: ['mean', 'median'], minSamplesLeaf: [5, 10, 20], windows: [3, 6], blend: [true, false], calibrateOn: ['training'] };
export const DEFAULT_SETTING: Setting = { target: 'log1p', leaf: 'mean', minSamplesLeaf: 10, windows: 3, blend: true, calibrateOn: 'training' };
/** Gini differences below this are noise at a few thousand customers: MAE breaks the tie. */
export const GINI_TIE = 0.005;
/** Candidate forests are smaller than the final one: the ranking of settings, not the last digit, matters here. */
export const INNER_TREES = 50;

export interface InnerScore {
  setting: Setting;
  normalizedGini: number;
  mae: number;
  /** For calibrateOn 'validation': (c, w) fitted on the whole validation period, applied to the final forest. */
  calibration?: Calibration;
}

export interface Selection {
  chosen: Setting;
  /** Set when the chosen setting calibrates on the validation period: replaces the final forest's own. */
  calibration?: Calibration;
  /** Why the defaults were kept, when no inner validation was possible. */
  fallback?: string;
  /** Described by the first candidate (its windows and rows; candidates with more windows have more rows). */
  validation?: {
    cutoff: string;
    days: number;
    trainingWindows: string[];
    windowDays: number;
    customers: number;
    trainingRows: number;
  };
  scores: InnerScore[];
  /** The baselines on the same inner validation, for context (they have no settings to choose). */
  baselines: Record<'bgnbd_gg' | 'naive', { normalizedGini: number; mae: number }>;
}

export interface SelectOptions {
  horizonDays: number;
  forest?: Partial<ForestOptions>;
  grid?: SettingGrid;
  extra?: (asOf: number) => Map<string, Record<string, number>>;
  extraNames?: readonly string[];
  onProgress?: (fraction: number, message: string) => void;
}

/** `past` must hold only events before `cutoff`; nothing at or after it is read (the caller guarantees it). */
export function selectSettings(past: readonly History[], cutoff: number, opts: SelectOptions): Selection {
  const grid = opts.grid ?? DEFAULT_GRID;
  const H = opts.horizonDays;
  const historyDays = (cutoff - firstEventOf(past, cutoff)) / DAY_MS;
  const v = Math.max(7, Math.min(H, Math.floor(historyDays / 3)));
  const V = cutoff - v * DAY_MS;
  const none = { normalizedGini: NaN, mae: NaN };
  if (!(historyDays - v >= 14)) {
    return { chosen: DEFAULT_SETTING, fallback: `only ${historyDays.toFixed(0)} days of history: no room for an inner validation`, scores: [], baselines: { bgnbd_gg: none, naive: none } };
  }
  const byKey = new Map(past.map((h) => [h.key, h]));
  const scale = H / v;
  const leaves = grid.leaves ?? ['mean'];
  const combos = grid.targets.flatMap((target) => grid.minSamplesLeaf.flatMap((minSamplesLeaf) => grid.windows.map((windows) => ({ target, minSamplesLeaf, windows }))));
  const scores: InnerScore[] = [];
  let validation: Selection['validation'];
  let baselines: Selection['baselines'] = { bgnbd_gg: none, naive: none };
  for (const [i, c] of combos.entries()) {
    opts.onProgress?.(i / combos.length, `inner validation ${i + 1}/${combos.length}`);
    let model;
    try {
      model = trainClvForest(past, V, {
        horizonDays: H,
        windows: c.windows,
        target: c.target,
        compareLeaves: leaves.includes('median'),
        forest: { ...opts.forest, minSamplesLeaf: c.minSamplesLeaf, nEstimators: Math.min(INNER_TREES, opts.forest?.nEstimators ?? INNER_TREES) },
        extra: opts.extra,
        extraNames: opts.extraNames,
      });
    } catch (err) {
      if (err instanceof RangeError) return { chosen: DEFAULT_SETTING, fallback: `inner validation impossible: ${err.message}`, scores: [], baselines };
      throw err;
    }
    const design = designAt(past, V, H, model.baselines, opts.extra?.(V), opts.extraNames ?? []);
    const actual = design.keys.map((k) => netSpendBetween(byKey.get(k)!.events, V, cutoff) * scale);
    if (!validation) {
      validation = {
        cutoff: new Date(V).toISOString().slice(0, 10),
        days: v,
        trainingWindows: model.plan.asOfs.map((a) => new Date(a).toISOString().slice(0, 10)),
        windowDays: model.plan.h,
        customers: design.keys.length,
        trainingRows: model.trainingRows,
      };
      const naive = design.keys.map((k) => naiveOf(rfmOf(byKey.get(k)!, V)!, H));
      baselines = {
        bgnbd_gg: { normalizedGini: normalizedGini(actual, design.baseline.clv), mae: mae(actual, design.baseline.clv) },
        naive: { normalizedGini: normalizedGini(actual, naive), mae: mae(actual, naive) },
      };
    }
    const bg = design.baseline.clv;
    const fold = design.keys.map((k) => hashKey(k) % 2);
    for (const leaf of leaves) {
      const forest = model.byLeaf?.[leaf].forest ?? model.forest;
      const calibrations = model.byLeaf?.[leaf].calibrations ?? model.calibrations;
      const raw = predictDesign({ forest, target: model.target, calibration: { forest: 1, bgnbd: 0 } }, design);
      for (const calibrateOn of grid.calibrateOn) {
        for (const blend of grid.blend) {
          const setting: Setting = { target: c.target, leaf, minSamplesLeaf: c.minSamplesLeaf, windows: c.windows, blend, calibrateOn };
          if (calibrateOn === 'training') {
            const k = blend ? calibrations.blend : calibrations.scale;
            const p = raw.map((v, i) => k.forest * v + k.bgnbd * bg[i]!);
            scores.push({ setting, normalizedGini: normalizedGini(actual, p), mae: mae(actual, p) });
            continue;
          }
          const p = crossFitted(actual, raw, bg, fold, blend);
          const all = fitCalibration(actual, raw, bg);
          scores.push({ setting, normalizedGini: normalizedGini(actual, p), mae: mae(actual, p), calibration: blend ? all.blend : all.scale });
        }
      }
    }
  }
  opts.onProgress?.(1, 'inner validation done');
  const chosen = pick(scores, baselines) ?? DEFAULT_SETTING;
  const calibration = scores.find((x) => sameSetting(x.setting, chosen))?.calibration;
  return { chosen, ...(calibration ? { calibration } : {}), validation, scores, baselines };
}

/** Each half of the customers predicted with the calibration fitted on the other half. */
function crossFitted(actual: number[], raw: Float64Array, bg: Float64Array, fold: number[], blend: boolean): Float64Array {
  const out = new Float64Array(actual.length);
  for (const f of [0, 1]) {
    const fitIdx = fold.flatMap((g, i) => (g !== f ? [i] : []));
    const cal = fitCalibration(fitIdx.map((i) => actual[i]!), fitIdx.map((i) => raw[i]!), fitIdx.map((i) => bg[i]!));
    const k = blend ? cal.blend : cal.scale;
    fold.forEach((g, i) => {
      if (g === f) out[i] = k.forest * raw[i]! + k.bgnbd * bg[i]!;
    });
  }
  return out;
}

export const sameSetting = (a: Setting, b: Setting) =>
  a.target === b.target && a.leaf === b.leaf && a.minSamplesLeaf === b.minSamplesLeaf && a.windows === b.windows && a.blend === b.blend && a.calibrateOn === b.calibrateOn;

/**
 * Best Gini; within GINI_TIE of it, lowest MAE. With the baselines' inner scores, only candidates that beat every
 * baseline on both Gini and MAE compete, unless none does. Non-finite scores never win; a baseline whose score
 * is not finite does not bar anyone.
 */
export function pick(scores: readonly InnerScore[], baselines?: Selection['baselines']): Setting | undefined {
  const finite = scores.filter((s) => Number.isFinite(s.normalizedGini) && Number.isFinite(s.mae));
  const refs = baselines ? Object.values(baselines) : [];
  const beatsAll = (s: InnerScore) => refs.every((b) => !(s.normalizedGini <= b.normalizedGini) && !(s.mae >= b.mae));
  const eligible = finite.filter(beatsAll);
  const ok = eligible.length ? eligible : finite;
  if (!ok.length) return undefined;
  const top = Math.max(...ok.map((s) => s.normalizedGini));
  const tied = ok.filter((s) => s.normalizedGini >= top - GINI_TIE);
  tied.sort((a, b) => a.mae - b.mae);
  return tied[0]!.setting;
}

export function describeSetting(s: Setting): string {
  return `target ${s.target}, ${s.leaf} leaves, min leaf ${s.minSamplesLeaf}, ${s.windows} windows, ${s.blend ? 'blend with BG/NBD' : 'multiplier only'} fitted on the ${s.calibrateOn === 'training' ? 'training split' : 'validation period'}`;
}
