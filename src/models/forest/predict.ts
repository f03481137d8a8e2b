/**
 * Prediction, Saabas path contributions and impurity importances over the flat
 * `Forest` arrays. Routing is `x < threshold → left`, ml-cart's rule, so a forest
 * exported to ml-random-forest JSON predicts identically there.
 */
import type { Forest, Matrix } from './types';

function strides(X: Matrix, nFeatures: number): [row: number, col: number] {
  if (X.nCols !== nFeatures) throw new RangeError(`expected ${nFeatures} features, got ${X.nCols}`);
  if (X.data.length !== X.nRows * X.nCols) throw new RangeError('matrix data length does not match its shape');
  return X.layout === 'row' ? [X.nCols, 1] : [1, X.nRows];
}

function leafOf(f: Forest, t: number, x: ArrayLike<number>, base: number, cs: number): number {
  const { feature, threshold, left, right } = f;
  let node = f.treeStart[t]!;
  for (let ft = feature[node]!; ft >= 0; ft = feature[node]!) {
    node = x[base + ft * cs]! < threshold[node]! ? left[node]! : right[node]!;
  }
  return node;
}

/** Mean of the trees' leaf values. Summed in tree order then divided, like ml-array-mean. */
export function predict(f: Forest, X: Matrix): Float64Array {
  const [rs, cs] = strides(X, f.nFeatures);
  const out = new Float64Array(X.nRows);
  for (let r = 0; r < X.nRows; r++) {
    let sum = 0;
    for (let t = 0; t < f.nTrees; t++) sum += f.value[leafOf(f, t, X.data, r * rs, cs)]!;
    out[r] = sum / f.nTrees;
  }
  return out;
}

/** Prediction for a single row given as an array of nFeatures values. */
export function predictRow(f: Forest, row: ArrayLike<number>): number {
  if (row.length !== f.nFeatures) throw new RangeError(`expected ${f.nFeatures} features, got ${row.length}`);
  let sum = 0;
  for (let t = 0; t < f.nTrees; t++) sum += f.value[leafOf(f, t, row, 0, 1)]!;
  return sum / f.nTrees;
}

export interface Contributions {
  /** Mean root value over trees: the prediction before any split is applied. */
  bias: number;
  /** nRows x nFeatures, row-major; bias + row sum = prediction (up to rounding). */
  values: Float64Array;
}

/**
 * Saabas attribution: along each tree's path every split moves the running estimate
 * from the node's mean to the child's mean, and that change is credited to the split
 * feature. Exact decomposition of the prediction, cheap (one path walk per tree), but
 * biased towards features split near the root; use SHAP if that matters.
 */
export function contributions(f: Forest, X: Matrix): Contributions {
  const [rs, cs] = strides(X, f.nFeatures);
  const p = f.nFeatures;
  const { feature, threshold, left, right, value } = f;
  let bias = 0;
  for (let t = 0; t < f.nTrees; t++) bias += value[f.treeStart[t]!]!;
  bias /= f.nTrees;
  const values = new Float64Array(X.nRows * p);
  const inv = 1 / f.nTrees;
  const x = X.data;
  for (let r = 0; r < X.nRows; r++) {
    const base = r * rs;
    const ob = r * p;
    for (let t = 0; t < f.nTrees; t++) {
      let node = f.treeStart[t]!;
      for (let ft = feature[node]!; ft >= 0; ft = feature[node]!) {
        const next = x[base + ft * cs]! < threshold[node]! ? left[node]! : right[node]!;
        values[ob + ft]! += (value[next]! - value[node]!) * inv;
        node = next;
      }
    }
  }
  return { bias, values };
}

/**
 * Mean decrease in impurity, normalised per tree then across trees, which is what
 * scikit-learn's feature_importances_ reports for a forest.
 */
export function featureImportances(f: Forest): Float64Array {
  const p = f.nFeatures;
  const out = new Float64Array(p);
  let used = 0;
  for (let t = 0; t < f.nTrees; t++) {
    let s = 0;
    for (let j = 0; j < p; j++) s += f.importance[t * p + j]!;
    // Single-leaf trees carry no information; scikit-learn skips them the same way.
    if (!(s > 0)) continue;
    for (let j = 0; j < p; j++) out[j]! += f.importance[t * p + j]! / s;
    used++;
  }
  if (used > 0) for (let j = 0; j < p; j++) out[j]! /= used;
  return out;
}

/** Number of nodes per tree and deepest leaf depth, for size/complexity reporting. */
export function forestStats(f: Forest): { nodes: number; leaves: number; maxDepth: number } {
  let leaves = 0;
  let maxDepth = 0;
  const depth = new Int32Array(f.feature.length);
  for (let t = 0; t < f.nTrees; t++) {
    // Preorder means a parent is always visited before its children.
    for (let i = f.treeStart[t]!; i < f.treeStart[t + 1]!; i++) {
      if (f.feature[i]! < 0) {
        leaves++;
        if (depth[i]! > maxDepth) maxDepth = depth[i]!;
      } else {
        depth[f.left[i]!] = depth[i]! + 1;
        depth[f.right[i]!] = depth[i]! + 1;
      }
    }
  }
  return { nodes: f.feature.length, leaves, maxDepth };
}
