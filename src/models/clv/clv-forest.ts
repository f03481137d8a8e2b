import { computeFeatures, DAY_MS, FEATURE_NAMES, netSpendBetween } from '../../features/features.definitions';
import { type Forest, type ForestOptions, type Matrix, type ProgressFn, predict, trainForest, withLeafMedians } from '../forest';
import { type LeafLabelIndex, leafLabelIndex, predictQuantile } from '../forest/leaf-values';
import { type BaselineFit, fitBaselines, type History, predictBaseline, rfmOf } from './clv-baselines';

/**
 * The CLV forest learns only from the past: for a cutoff T it builds windows ending at or before T (features as
 * of a = e − h, label = net spend in (a, e]) and learns the H-day value as label × H/h. h = min(H, history/2),
 * so short histories (CDNOW: 39 weeks before, 39 after) train on shorter windows and scale, instead of failing.
 * BG/NBD outputs fitted on the same window's past are stacked as features.
 */
export const MODEL_FEATURES = ['bgnbd_exp_purchases', 'bgnbd_p_alive', 'bgnbd_clv'] as const;

export type TargetTransform = 'log1p' | 'raw';
/**
 * What the forest predicts: the mean of its leaves (least squares), the mean of their medians, or 'qrf', the
 * median of the labels of all the leaves a customer falls in (quantile regression forest; forest/leaf-values.ts).
 * 'qrf' needs the training labels at prediction time (ClvModel.qrf, in memory only): evaluate can use it, a
 * stored artifact cannot until the labels are stored with the trees.
 */
export type LeafValue = 'mean' | 'median' | 'qrf';

export interface ClvTrainOptions {
  horizonDays: number;
  forest?: Partial<ForestOptions>;
  /** Training windows (most recent first); fewer when the history is too short. */
  windows?: number;
  windowStepDays?: number;
  target?: TargetTransform;
  /** Leaf statistic of the model's forest (default 'mean'). */
  leaf?: LeafValue;
  /** Also build these leaf statistics from the same trees (model.byLeaf): setting selection compares them. */
  compareLeaves?: readonly LeafValue[];
  /** Only these customer keys contribute training rows (the rest are a holdout). */
  trainKeys?: ReadonlySet<string>;
  /** Extra per-customer features (semantic), same names for every customer; missing → -1. */
  extra?: (asOf: number) => Map<string, Record<string, number>>;
  extraNames?: readonly string[];
  /** Fit a multiplier on held-out training customers that minimises their MAE (default true). */
  calibrate?: boolean;
  /** Let that calibration blend in the stacked BG/NBD CLV (default true); false: multiplier only. */
  blend?: boolean;
  onProgress?: (fraction: number, message: string) => void;
  /** Grows the forests (default: trainForest here). Scale-out hands the rows to other workers through this. */
  trainForest?: ForestTrainer;
  /** Fits the baselines as of a date (default fitBaselinesAt); scale-out passes fits computed by other workers. */
  fitBaselines?: (histories: readonly History[], asOf: number) => BaselineFit;
  /**
   * Training windows' designs and labels by as-of date, filled on first use: scale-out's replay runs on the same
   * histories, fits and keys as its capture, so it reuses them instead of rebuilding (seconds at 100k customers).
   */
  windowCache?: Map<number, { design: Design; labels: number[]; extraNames: string }>;
}

/** 'main': the model's forest; 'calibration': the smaller forest the calibration split is fitted with. */
export type ForestTrainer = (role: 'main' | 'calibration', X: Matrix, y: ArrayLike<number>, opts: Partial<ForestOptions>, onProgress?: ProgressFn) => Forest;
const localTrainer: ForestTrainer = (_role, X, y, o, onProgress) => trainForest(X, y, o, onProgress);

export const DEFAULT_FOREST: Partial<ForestOptions> = { nEstimators: 100, maxDepth: 12, minSamplesLeaf: 10, maxFeatures: 0.5, seed: 42 };

export interface WindowPlan {
  h: number;
  asOfs: number[];
  scale: number;
}

export function planWindows(firstEvent: number, cutoff: number, horizonDays: number, windows = 3, stepDays?: number): WindowPlan {
  const historyDays = (cutoff - firstEvent) / DAY_MS;
  if (!(historyDays >= 14)) throw new RangeError(`need at least 14 days of history before the cutoff, have ${historyDays.toFixed(1)}`);
  const h = Math.max(7, Math.min(horizonDays, Math.floor(historyDays / 2)));
  // More windows than 3 come closer together (h/3 apart by default, h/windows when more are asked for).
  const step = stepDays ?? Math.max(7, Math.round(h / Math.max(3, windows)));
  const asOfs: number[] = [];
  for (let k = 0; k < windows; k++) {
    const asOf = cutoff - (h + k * step) * DAY_MS;
    // A window needs some past to describe customers with; the first one always qualifies (h ≤ history/2).
    if (k > 0 && (asOf - firstEvent) / DAY_MS < Math.min(h, 30)) break;
    asOfs.push(asOf);
  }
  return { h, asOfs, scale: horizonDays / h };
}

export interface ClvModel {
  forest: Forest;
  featureNames: string[];
  target: TargetTransform;
  leaf: LeafValue;
  /** With leaf 'qrf': the training rows' labels per leaf, which predictDesign then reads instead of leaf values. */
  qrf?: LeafLabelIndex;
  /** With compareLeaves: the same trees with each leaf statistic, and the calibrations fitted for each. */
  byLeaf?: Partial<Record<LeafValue, { forest: Forest; qrf?: LeafLabelIndex; calibrations: CalibrationChoice }>>;
  /** Final prediction = forest × calibration.forest + stacked BG/NBD CLV × calibration.bgnbd (see calibrate). */
  calibration: Calibration;
  /** Both calibrations fitted on the same split (blend, multiplier only): setting selection compares them. */
  calibrations: CalibrationChoice;
  horizonDays: number;
  plan: WindowPlan;
  /** Baselines fitted at the cutoff: used for the stacked features when scoring. */
  baselines: BaselineFit;
  trainingRows: number;
}

export interface Calibration {
  forest: number;
  bgnbd: number;
}

export interface CalibrationChoice {
  blend: Calibration;
  scale: Calibration;
}

export interface Design {
  keys: string[];
  X: Float64Array;
  nCols: number;
  baseline: { expPurchases: Float64Array; pAlive: Float64Array; clv: Float64Array };
}

/** Rows for every customer with a purchase before asOf: features, stacked baseline outputs, extras. */
export function designAt(
  histories: readonly History[],
  asOf: number,
  horizonDays: number,
  baselines: BaselineFit,
  extra?: Map<string, Record<string, number>>,
  extraNames: readonly string[] = [],
  only?: ReadonlySet<string>,
): Design {
  const nBase = FEATURE_NAMES.length;
  const nCols = nBase + MODEL_FEATURES.length + extraNames.length;
  const keys: string[] = [];
  const rows: Float64Array[] = [];
  const ep: number[] = [];
  const pa: number[] = [];
  const bc: number[] = [];
  for (const h of histories) {
    if (only && !only.has(h.key)) continue;
    const rfm = rfmOf(h, asOf);
    if (!rfm) continue;
    const b = predictBaseline(baselines, rfm, horizonDays);
    const row = new Float64Array(nCols);
    row.set(computeFeatures(h.events, h.attrs, asOf));
    row[nBase] = b.expPurchases;
    row[nBase + 1] = b.pAlive;
    row[nBase + 2] = b.clv;
    const ex = extra?.get(h.key);
    extraNames.forEach((n, j) => {
      row[nBase + 3 + j] = ex?.[n] ?? -1;
    });
    keys.push(h.key);
    rows.push(row);
    ep.push(b.expPurchases);
    pa.push(b.pAlive);
    bc.push(b.clv);
  }
  const X = new Float64Array(rows.length * nCols);
  rows.forEach((r, i) => X.set(r, i * nCols));
  return { keys, X, nCols, baseline: { expPurchases: Float64Array.from(ep), pAlive: Float64Array.from(pa), clv: Float64Array.from(bc) } };
}

/**
 * BG/NBD + Gamma-Gamma fitted on the state as of asOf. Memoised per histories array and asOf (the fit is a pure
 * function of both, and costly): evaluate's candidates share their windows. Treat the result as read-only, and
 * the array as frozen once fitted on.
 */
export function fitBaselinesAt(histories: readonly History[], asOf: number): BaselineFit {
  let byAsOf = baselineFits.get(histories);
  if (!byAsOf) baselineFits.set(histories, (byAsOf = new Map()));
  let fit = byAsOf.get(asOf);
  if (!fit) {
    const rfm = histories.map((h) => rfmOf(h, asOf)).filter((r): r is NonNullable<typeof r> => r !== null);
    byAsOf.set(asOf, (fit = fitBaselines(rfm)));
  }
  return fit;
}

const baselineFits = new WeakMap<readonly History[], Map<number, BaselineFit>>();

export function firstEventOf(histories: readonly History[], before: number): number {
  let first = Infinity;
  for (const h of histories) for (const e of h.events) if (e.at < before && e.at < first) first = e.at;
  return first;
}

export function trainClvForest(histories: readonly History[], cutoff: number, opts: ClvTrainOptions): ClvModel {
  const target = opts.target ?? 'log1p';
  const plan = planWindows(firstEventOf(histories, cutoff), cutoff, opts.horizonDays, opts.windows ?? 3, opts.windowStepDays);
  const extraNames = opts.extraNames ?? [];
  const parts: Design[] = [];
  const labels: number[] = [];
  let byKey: Map<string, History> | undefined;
  plan.asOfs.forEach((asOf, k) => {
    opts.onProgress?.((0.3 * k) / plan.asOfs.length, `features for window ${k + 1}/${plan.asOfs.length}`);
    const names = extraNames.join('\u0000');
    let w = opts.windowCache?.get(asOf);
    // Semantic features that appeared meanwhile change the columns: rebuilt (the supplying trainer then refuses).
    if (!w || w.extraNames !== names) {
      const design = designAt(histories, asOf, opts.horizonDays, (opts.fitBaselines ?? fitBaselinesAt)(histories, asOf), opts.extra?.(asOf), extraNames, opts.trainKeys);
      byKey ??= new Map(histories.map((h) => [h.key, h]));
      w = { design, labels: design.keys.map((key) => netSpendBetween(byKey!.get(key)!.events, asOf, asOf + plan.h * DAY_MS) * plan.scale), extraNames: names };
      opts.windowCache?.set(asOf, w);
    }
    for (const v of w.labels) labels.push(v);
    parts.push(w.design);
  });
  const nCols = parts[0]!.nCols;
  const n = labels.length;
  if (n < 10) throw new RangeError(`only ${n} training rows: not enough customers before the cutoff`);
  const X = new Float64Array(n * nCols);
  let off = 0;
  for (const p of parts) {
    X.set(p.X, off);
    off += p.X.length;
  }
  const y = Float64Array.from(labels, (v) => (target === 'log1p' ? Math.log1p(Math.max(0, v)) : v));
  const forestOpts = { ...DEFAULT_FOREST, ...opts.forest };
  const rowKeys = parts.flatMap((p) => p.keys);
  const identity = { forest: 1, bgnbd: 0 };
  const leaf = opts.leaf ?? 'mean';
  const leaves: LeafValue[] = [...new Set([leaf, ...(opts.compareLeaves ?? [])])];
  const byLeafCal = opts.calibrate === false ? Object.fromEntries(leaves.map((l) => [l, { blend: identity, scale: identity }])) : calibrate(X, nCols, y, Float64Array.from(labels), rowKeys, target, forestOpts, opts.trainForest ?? localTrainer, leaves);
  const calibrations = byLeafCal[leaf]!;
  const calibration = opts.blend === false ? calibrations.scale : calibrations.blend;
  opts.onProgress?.(0.4, 'training the forest');
  const meanForest = (opts.trainForest ?? localTrainer)('main', { data: X, nRows: n, nCols, layout: 'row' }, y, forestOpts, (done, total) =>
    opts.onProgress?.(0.4 + (0.6 * done) / total, `tree ${done}/${total}`),
  );
  const trainX: Matrix = { data: X, nRows: n, nCols, layout: 'row' };
  const byLeaf: NonNullable<ClvModel['byLeaf']> = {};
  for (const l of leaves) {
    byLeaf[l] = {
      forest: l === 'median' ? withLeafMedians(meanForest, trainX, y) : meanForest,
      ...(l === 'qrf' ? { qrf: leafLabelIndex(meanForest, trainX, y) } : {}),
      calibrations: byLeafCal[l]!,
    };
  }
  const { forest, qrf } = byLeaf[leaf]!;
  return {
    forest,
    ...(qrf ? { qrf } : {}),
    featureNames: [...FEATURE_NAMES, ...MODEL_FEATURES, ...extraNames],
    target,
    leaf,
    ...(opts.compareLeaves ? { byLeaf } : {}),
    calibration,
    calibrations,
    horizonDays: opts.horizonDays,
    plan,
    baselines: (opts.fitBaselines ?? fitBaselinesAt)(histories, cutoff),
    trainingRows: n,
  };
}

/** Forest output mapped back to money over the horizon. */
export function predictDesign(model: Pick<ClvModel, 'forest' | 'target' | 'calibration' | 'qrf'>, d: Design): Float64Array {
  const X: Matrix = { data: d.X, nRows: d.keys.length, nCols: d.nCols, layout: 'row' };
  const out = backTransform(model.qrf ? predictQuantile(model.qrf, X) : predict(model.forest, X), model.target, model.calibration.forest);
  const b = model.calibration.bgnbd;
  if (b) for (let i = 0; i < out.length; i++) out[i]! += b * d.baseline.clv[i]!;
  return out;
}

function backTransform(raw: Float64Array, target: TargetTransform, factor: number): Float64Array {
  for (let i = 0; i < raw.length; i++) raw[i] = (target === 'log1p' ? Math.expm1(raw[i]!) : raw[i]!) * factor;
  return raw;
}

/**
 * A log1p target predicts roughly a geometric mean: good ranks, money too low. A calibration step puts it back
 * on the money scale: c·((1 − w)·forest + w·stacked BG/NBD CLV), with c and w chosen on a 20% split of the
 * TRAINING customers (by key, so a customer's windows stay together) to minimise their MAE; w = 0 is allowed
 * and is what the grid picks when BG/NBD adds nothing. Everything here comes from before the cutoff.
 */
function calibrate(X: Float64Array, nCols: number, y: Float64Array, money: Float64Array, keys: string[], target: TargetTransform, forestOpts: Partial<ForestOptions>, train: ForestTrainer, leaves: readonly LeafValue[]): Partial<Record<LeafValue, CalibrationChoice>> {
  const isVal = keys.map(isCalibrationKey);
  const fit: number[] = [];
  const val: number[] = [];
  isVal.forEach((v, i) => (v ? val : fit).push(i));
  const identity = { blend: { forest: 1, bgnbd: 0 }, scale: { forest: 1, bgnbd: 0 } };
  if (val.length < 20 || fit.length < 20) return Object.fromEntries(leaves.map((l) => [l, identity]));
  const take = (rows: number[]) => {
    const out = new Float64Array(rows.length * nCols);
    rows.forEach((r, i) => out.set(X.subarray(r * nCols, (r + 1) * nCols), i * nCols));
    return out;
  };
  const fitX: Matrix = { data: take(fit), nRows: fit.length, nCols, layout: 'row' };
  const fitY = fit.map((i) => y[i]!);
  const f = train('calibration', fitX, fitY, { ...forestOpts, nEstimators: Math.min(50, forestOpts.nEstimators ?? 100) });
  const valX: Matrix = { data: take(val), nRows: val.length, nCols, layout: 'row' };
  const actual = val.map((i) => money[i]!);
  // The stacked BG/NBD CLV column sits right after the base features.
  const bg = val.map((i) => X[i * nCols + FEATURE_NAMES.length + 2]!);
  const out: Partial<Record<LeafValue, CalibrationChoice>> = {};
  for (const leaf of leaves) {
    const p = leaf === 'qrf' ? predictQuantile(leafLabelIndex(f, fitX, fitY), valX) : predict(leaf === 'median' ? withLeafMedians(f, fitX, fitY) : f, valX);
    out[leaf] = fitCalibration(actual, backTransform(p, target, 1), bg);
  }
  return out;
}

/**
 * c·((1 − w)·forest + w·bgnbd) minimising the MAE against `actual`, for w ∈ {0, 0.1, …, 1}; `scale` is the best
 * with w = 0 (multiplier only). For a fixed base b = (1 − w)·forest + w·bgnbd the best c is exact, not searched:
 * Σ|a − c·b| = Σ|b|·|a/b − c| is minimised by the |b|-weighted median of a/b (mae-multiplier below). Shared by the
 * customer-split calibration above and evaluate's validation-period calibration (src/models/evaluate/select-settings.ts).
 */
export function fitCalibration(actual: ArrayLike<number>, forest: ArrayLike<number>, bgnbd: ArrayLike<number>): CalibrationChoice {
  let best: Calibration = { forest: 1, bgnbd: 0 };
  let scale: Calibration = { forest: 1, bgnbd: 0 };
  let bestMae = Infinity;
  const n = actual.length;
  const base = new Float64Array(n);
  for (let k = 0; k <= 10; k++) {
    const w = k / 10;
    for (let i = 0; i < n; i++) base[i] = (1 - w) * forest[i]! + w * bgnbd[i]!;
    const c = maeMultiplier(actual, base);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(actual[i]! - c * base[i]!);
    if (k === 0) scale = { forest: c, bgnbd: 0 };
    if (s < bestMae) {
      bestMae = s;
      best = { forest: c * (1 - w), bgnbd: c * w };
    }
  }
  return { blend: best, scale };
}

/**
 * The c ≥ 0 that minimises Σ|actual − c·base|: the lower |base|-weighted median of actual/base over rows with
 * base ≠ 0 (rows with base = 0 add the same error for every c). 1 when every base is 0; 0 when the median ratio
 * is negative (a negative multiplier would invert the ranking).
 */
export function maeMultiplier(actual: ArrayLike<number>, base: ArrayLike<number>): number {
  const ratio: number[] = [];
  const weight: number[] = [];
  for (let i = 0; i < actual.length; i++) {
    const b = base[i]!;
    if (b === 0) continue;
    ratio.push(actual[i]! / b);
    weight.push(Math.abs(b));
  }
  if (!ratio.length) return 1;
  const order = ratio.map((_, i) => i).sort((i, j) => ratio[i]! - ratio[j]! || i - j);
  const total = weight.reduce((s, v) => s + v, 0);
  let cum = 0;
  for (const i of order) {
    cum += weight[i]!;
    if (cum >= total / 2) return Math.max(0, ratio[i]!);
  }
  return Math.max(0, ratio[order[order.length - 1]!]!);
}

/**
 * The customers calibrate() fits on. Salted: production training holds out `hashKey(k) % 5 === 0` (holdoutFraction
 * 0.2), so the same unsalted test picked only held-out customers, found none among the training ones, and
 * calibration silently stayed the identity.
 */
export function isCalibrationKey(k: string): boolean {
  return hashKey(`calibration:${k}`) % 5 === 0;
}

export function hashKey(k: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < k.length; i++) h = Math.imul(h ^ k.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
