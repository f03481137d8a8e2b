/**
 * Evaluation metrics for CLV predictions. Every function takes
 * (actual, predicted) of equal, non-zero length and finite values.
 * Ordering conventions (ties!) are spelled out per metric because they move
 * rank-based numbers on real CLV data, where many customers predict exactly 0.
 */

export type Vec = ArrayLike<number>;

function check(actual: Vec, predicted: Vec): number {
  const n = actual.length;
  if (n !== predicted.length) throw new RangeError(`metrics: length mismatch (${n} vs ${predicted.length})`);
  if (n === 0) throw new RangeError('metrics: empty input');
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(actual[i]!) || !Number.isFinite(predicted[i]!)) throw new RangeError(`metrics: non-finite value at ${i}`);
  }
  return n;
}

export function mae(actual: Vec, predicted: Vec): number {
  const n = check(actual, predicted);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(actual[i]! - predicted[i]!);
  return s / n;
}

export function rmse(actual: Vec, predicted: Vec): number {
  const n = check(actual, predicted);
  let s = 0;
  for (let i = 0; i < n; i++) s += (actual[i]! - predicted[i]!) ** 2;
  return Math.sqrt(s / n);
}

/**
 * Coefficient of determination 1 - SS_res / SS_tot. When actual is constant
 * (SS_tot = 0) we follow scikit-learn: 1 for a perfect prediction, else 0.
 */
export function r2(actual: Vec, predicted: Vec): number {
  const n = check(actual, predicted);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += actual[i]! / n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    ssRes += (actual[i]! - predicted[i]!) ** 2;
    ssTot += (actual[i]! - mean) ** 2;
  }
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}

/** Indices sorted by v (stable: ties keep input order). */
function argsort(v: Vec, descending: boolean): number[] {
  const idx = Array.from({ length: v.length }, (_, i) => i);
  return idx.sort((i, j) => (descending ? v[j]! - v[i]! : v[i]! - v[j]!) || i - j);
}

/** 1-based ranks, tied values get the average of the ranks they span. */
export function averageRanks(v: Vec): Float64Array {
  const order = argsort(v, false);
  const ranks = new Float64Array(v.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && v[order[end + 1]!] === v[order[start]!]) end++;
    const avg = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]!] = avg;
    start = end + 1;
  }
  return ranks;
}

function pearson(a: Vec, b: Vec): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]! / n;
    mb += b[i]! / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/** Spearman's rho = Pearson correlation of average ranks (tie-correct). NaN if either side is constant. */
export function spearman(actual: Vec, predicted: Vec): number {
  check(actual, predicted);
  return pearson(averageRanks(actual), averageRanks(predicted));
}

/**
 * Kaggle-style (unnormalised) Gini: order rows by predicted descending — ties
 * keep input order, exactly like the reference lexsort on (index, -pred) —
 * then compare the cumulative share of actual with the diagonal.
 */
export function gini(actual: Vec, predicted: Vec): number {
  const n = check(actual, predicted);
  let total = 0;
  for (let i = 0; i < n; i++) total += actual[i]!;
  if (total === 0) return NaN;
  let cum = 0;
  let sumCum = 0;
  for (const i of argsort(predicted, true)) {
    cum += actual[i]!;
    sumCum += cum;
  }
  return (sumCum / total - (n + 1) / 2) / n;
}

/** gini(actual, predicted) / gini(actual, actual): 1 = perfect ordering, < 0 = worse than random. NaN if undefined. */
export function normalizedGini(actual: Vec, predicted: Vec): number {
  const denom = gini(actual, actual);
  return denom === 0 ? NaN : gini(actual, predicted) / denom;
}

/**
 * Share of total actual value captured by the top ceil(n/10) rows by
 * prediction. Ties at the cut-off are shared fractionally: if s rows tie at
 * the boundary and only k of them fit, they contribute k/s of their summed
 * actual — the expectation under random tie-breaking, so the result does not
 * depend on input order (matters when many predictions are 0). NaN if the
 * actual total is 0.
 */
export function topDecileShare(actual: Vec, predicted: Vec): number {
  const n = check(actual, predicted);
  const k = Math.ceil(n / 10);
  const order = argsort(predicted, true);
  const threshold = predicted[order[k - 1]!]!;
  let total = 0;
  let above = 0;
  let aboveCount = 0;
  let tied = 0;
  let tiedCount = 0;
  for (let i = 0; i < n; i++) {
    total += actual[i]!;
    if (predicted[i]! > threshold) {
      above += actual[i]!;
      aboveCount++;
    } else if (predicted[i]! === threshold) {
      tied += actual[i]!;
      tiedCount++;
    }
  }
  if (total === 0) return NaN;
  return (above + (tied * (k - aboveCount)) / tiedCount) / total;
}

export interface CalibrationRow {
  /** 1 = lowest predictions, 10 = highest. */
  decile: number;
  count: number;
  meanPredicted: number;
  meanActual: number;
}

/**
 * Sort rows by prediction ascending (ties keep input order) and cut into 10
 * near-equal groups: group i holds sorted positions floor(i·n/10) ..
 * floor((i+1)·n/10) - 1, so sizes differ by at most one and sum to n. Always
 * returns 10 rows; with n < 10 some are empty (count 0, means NaN).
 */
export function decileCalibration(actual: Vec, predicted: Vec): CalibrationRow[] {
  const n = check(actual, predicted);
  const order = argsort(predicted, false);
  const rows: CalibrationRow[] = [];
  for (let d = 0; d < 10; d++) {
    const start = Math.floor((d * n) / 10);
    const end = Math.floor(((d + 1) * n) / 10);
    let sp = 0;
    let sa = 0;
    for (let k = start; k < end; k++) {
      sp += predicted[order[k]!]!;
      sa += actual[order[k]!]!;
    }
    const count = end - start;
    rows.push({ decile: d + 1, count, meanPredicted: count ? sp / count : NaN, meanActual: count ? sa / count : NaN });
  }
  return rows;
}
