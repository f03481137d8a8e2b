/**
 * Leaf statistics other than the mean, set after training. The split search is untouched (it minimises squared
 * error); only what a leaf predicts changes, so the trees, their routing and the artifact format stay the same.
 */
import type { Forest, Matrix } from './types';

/**
 * Relative weight of the leaf's own mean added to its median. Medians of zero-inflated labels tie a lot (every
 * customer whose trees all say "median 0"); rank metrics then depend on input order. A tiny share of the mean
 * orders those ties by the expected value instead, and moves amounts by at most a millionth of the mean.
 */
export const MEDIAN_TIE_BREAK = 1e-6;

/**
 * A copy of `f` whose leaves predict the median of the labels of the training rows that reach them (all rows of
 * `X`, in-bag or not, as in a quantile regression forest's "median of the leaf's observations"), plus
 * MEDIAN_TIE_BREAK × the leaf's trained mean. Averaged over trees this approximates the conditional median,
 * the prediction that minimises absolute error, where the mean leaf estimates the conditional mean. Internal
 * nodes keep their means; path contributions still add up to the prediction (they telescope to the leaf value).
 * Leaves that no row reaches (impossible when X is the training matrix) keep their mean.
 */
export function withLeafMedians(f: Forest, X: Matrix, y: ArrayLike<number>): Forest {
  if (X.nCols !== f.nFeatures) throw new RangeError(`expected ${f.nFeatures} features, got ${X.nCols}`);
  if (y.length !== X.nRows) throw new RangeError('labels and rows differ in length');
  const [rs, cs] = X.layout === 'row' ? [X.nCols, 1] : [1, X.nRows];
  const { feature, threshold, left, right } = f;
  const value = Float64Array.from(f.value);
  const labels = new Map<number, number[]>();
  for (let t = 0; t < f.nTrees; t++) {
    labels.clear();
    for (let r = 0; r < X.nRows; r++) {
      let node = f.treeStart[t]!;
      for (let ft = feature[node]!; ft >= 0; ft = feature[node]!) node = X.data[r * rs + ft * cs]! < threshold[node]! ? left[node]! : right[node]!;
      let list = labels.get(node);
      if (!list) labels.set(node, (list = []));
      list.push(y[r]!);
    }
    for (const [node, list] of labels) value[node] = median(list) + MEDIAN_TIE_BREAK * f.value[node]!;
  }
  return { ...f, value };
}

/** Median (mean of the two middle values for an even count); sorts `v` in place. */
export function median(v: number[]): number {
  if (!v.length) return NaN;
  v.sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/**
 * Quantile regression forest (Meinshausen 2006) over a trained forest: the training rows each leaf holds, so a
 * query can be answered with a quantile of the labels of the leaves it falls in, pooled over all trees (each tree
 * weighs its leaf's rows 1/|leaf|, so every tree counts equally). Unlike withLeafMedians (a mean of per-tree
 * medians) this is the median of one conditional distribution, which is what minimises absolute error.
 * It needs the training labels at prediction time, so it lives in memory next to the forest, not in the artifact.
 */
export interface LeafLabelIndex {
  forest: Forest;
  /** CSR over nodes: the training rows (as label ranks) of node v are rows[rowStart[v] .. rowStart[v + 1]). */
  rowStart: Int32Array;
  rows: Int32Array;
  /** Training labels in ascending order; ranks index into it. */
  sorted: Float64Array;
}

export function leafLabelIndex(f: Forest, X: Matrix, y: ArrayLike<number>): LeafLabelIndex {
  if (X.nCols !== f.nFeatures) throw new RangeError(`expected ${f.nFeatures} features, got ${X.nCols}`);
  if (y.length !== X.nRows) throw new RangeError('labels and rows differ in length');
  const n = X.nRows;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => y[a]! - y[b]! || a - b);
  const rank = new Int32Array(n);
  order.forEach((r, k) => (rank[r] = k));
  const sorted = Float64Array.from(order, (r) => y[r]!);
  const leafOfRow = new Int32Array(n * f.nTrees);
  const count = new Int32Array(f.value.length + 1);
  const [rs, cs] = X.layout === 'row' ? [X.nCols, 1] : [1, X.nRows];
  for (let t = 0; t < f.nTrees; t++) {
    for (let r = 0; r < n; r++) {
      const node = leafOf(f, t, X.data, r * rs, cs);
      leafOfRow[t * n + r] = node;
      count[node + 1]!++;
    }
  }
  for (let v = 0; v < f.value.length; v++) count[v + 1]! += count[v]!;
  const rowStart = Int32Array.from(count);
  const fill = Int32Array.from(count);
  const rows = new Int32Array(n * f.nTrees);
  for (let i = 0; i < leafOfRow.length; i++) rows[fill[leafOfRow[i]!]!++] = rank[i % n]!;
  return { forest: f, rowStart, rows, sorted };
}

/**
 * The q-quantile of the pooled leaf labels for each row of X, plus MEDIAN_TIE_BREAK × the mean forest's
 * prediction (zero-inflated labels give many customers the same quantile, 0; the mean orders them).
 */
export function predictQuantile(ix: LeafLabelIndex, X: Matrix, q = 0.5): Float64Array {
  const f = ix.forest;
  if (X.nCols !== f.nFeatures) throw new RangeError(`expected ${f.nFeatures} features, got ${X.nCols}`);
  const [rs, cs] = X.layout === 'row' ? [X.nCols, 1] : [1, X.nRows];
  const w = new Float64Array(ix.sorted.length);
  const out = new Float64Array(X.nRows);
  for (let r = 0; r < X.nRows; r++) {
    let mean = 0;
    let lo = w.length;
    let hi = -1;
    for (let t = 0; t < f.nTrees; t++) {
      const node = leafOf(f, t, X.data, r * rs, cs);
      mean += f.value[node]!;
      const a = ix.rowStart[node]!;
      const b = ix.rowStart[node + 1]!;
      const share = 1 / (b - a);
      for (let k = a; k < b; k++) {
        const rank = ix.rows[k]!;
        w[rank]! += share;
        if (rank < lo) lo = rank;
        if (rank > hi) hi = rank;
      }
    }
    // Total weight is the number of trees whose leaf holds any row (all of them when X trained the index).
    let total = 0;
    for (let k = lo; k <= hi; k++) total += w[k]!;
    let cum = 0;
    let value = NaN;
    for (let k = lo; k <= hi; k++) {
      cum += w[k]!;
      if (Number.isNaN(value) && cum >= q * total - 1e-12) value = ix.sorted[k]!;
      w[k] = 0;
    }
    out[r] = (Number.isNaN(value) ? mean / f.nTrees : value) + (MEDIAN_TIE_BREAK * mean) / f.nTrees;
  }
  return out;
}

function leafOf(f: Forest, t: number, x: ArrayLike<number>, base: number, cs: number): number {
  let node = f.treeStart[t]!;
  for (let ft = f.feature[node]!; ft >= 0; ft = f.feature[node]!) node = x[base + ft * cs]! < f.threshold[node]! ? f.left[node]! : f.right[node]!;
  return node;
}
