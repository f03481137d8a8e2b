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
