/**
 * Shared types for the forest trainer. The in-memory `Forest` is a flat, typed-array
 * struct-of-arrays so it can be posted between worker threads without copying
 * object graphs, and so prediction never touches a JS object per node.
 */

export type SplitMethod = 'exact' | 'hist';

export interface ForestOptions {
  /** Number of trees (ignored by `trainTrees`, which takes explicit per-tree seeds). */
  nEstimators: number;
  /** Number of split levels; root is depth 0 (same meaning as scikit-learn and ml-cart). */
  maxDepth: number;
  /** Minimum number of distinct in-bag rows on each side of a split (scikit-learn semantics). */
  minSamplesLeaf: number;
  /** A node with fewer distinct in-bag rows than this becomes a leaf (ml-cart minNumSamples + 1). */
  minSamplesSplit: number;
  /** Fraction of features drawn at EACH split, like scikit-learn's float max_features. */
  maxFeatures: number;
  /** Rows drawn per tree, as a fraction of all rows. */
  sampleFraction: number;
  /** true: draw rows with replacement (bagging); false: draw without replacement. */
  bootstrap: boolean;
  /** Forest seed; per-tree seeds are derived from it with `treeSeeds`. */
  seed: number;
  /** 'exact': every distinct value is a candidate; 'hist': ≤ maxBins quantile bins per feature. */
  splitMethod: SplitMethod;
  /**
   * Exact mode only. 'all': every boundary between distinct values (scikit-learn).
   * 'ml-cart': ml-cart's candidate set and tie thresholds, for bit-exact parity with
   * DecisionTreeRegression (see split-exact.ts for why it differs when minSamplesLeaf > 1).
   */
  splitCandidates: 'all' | 'ml-cart';
  /** Histogram bins per feature (2..256), used only when splitMethod is 'hist'. */
  maxBins: number;
  /**
   * Round node values to float32. Halves the value storage in the artifact; the
   * error (~6e-8 relative) is far below any CLV precision. Off for bit-exact comparisons.
   */
  float32Values: boolean;
}

export const DEFAULT_OPTIONS: ForestOptions = {
  nEstimators: 100,
  maxDepth: 14,
  minSamplesLeaf: 5,
  minSamplesSplit: 2,
  maxFeatures: 1 / 3,
  sampleFraction: 1,
  bootstrap: true,
  seed: 42,
  splitMethod: 'exact',
  splitCandidates: 'all',
  maxBins: 256,
  float32Values: true,
};

/** Feature matrix: a flat Float64Array plus its shape and memory order. */
export interface Matrix {
  data: Float64Array;
  nRows: number;
  nCols: number;
  /** 'row': data[r * nCols + c]; 'col': data[c * nRows + r]. */
  layout: 'row' | 'col';
}

/**
 * Trees stored as flat arrays over all nodes of all trees. Each tree's nodes are in
 * preorder starting at treeStart[t]; child indices are absolute. A leaf has feature -1.
 */
export interface Forest {
  nFeatures: number;
  nTrees: number;
  /** Length nTrees + 1; tree t owns nodes [treeStart[t], treeStart[t + 1]). */
  treeStart: Int32Array;
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /** Weighted mean target of the node's in-bag rows (the prediction for leaves). */
  value: Float64Array;
  /** Per tree, per feature summed weighted impurity decrease: nTrees * nFeatures. */
  importance: Float64Array;
  /** Seeds the trees were grown from, so a forest can be regrown or extended. */
  seeds: Uint32Array;
}

export type ProgressFn = (treesDone: number, treesTotal: number) => void;

export function resolveOptions(partial: Partial<ForestOptions> = {}): ForestOptions {
  const o: ForestOptions = { ...DEFAULT_OPTIONS, ...partial };
  const intAtLeast = (name: keyof ForestOptions, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  intAtLeast('nEstimators', o.nEstimators, 1);
  intAtLeast('minSamplesLeaf', o.minSamplesLeaf, 1);
  intAtLeast('minSamplesSplit', o.minSamplesSplit, 2);
  intAtLeast('maxBins', o.maxBins, 2);
  if (o.maxBins > 256) throw new RangeError('maxBins must be <= 256 (bins are stored as bytes)');
  // Infinity is allowed here; it is what ml-cart uses for "unlimited".
  if (!(o.maxDepth >= 0) || (Number.isFinite(o.maxDepth) && !Number.isInteger(o.maxDepth))) {
    throw new RangeError(`maxDepth must be a non-negative integer or Infinity, got ${o.maxDepth}`);
  }
  // Deliberately a fraction only: ml-random-forest's "1 means all, 2 means two" overload is a trap.
  if (!(o.maxFeatures > 0 && o.maxFeatures <= 1)) throw new RangeError('maxFeatures is a fraction in (0, 1]');
  if (!(o.sampleFraction > 0 && o.sampleFraction <= 1)) throw new RangeError('sampleFraction is a fraction in (0, 1]');
  if (!Number.isInteger(o.seed)) throw new RangeError('seed must be an integer');
  if (o.splitMethod !== 'exact' && o.splitMethod !== 'hist') throw new RangeError(`unknown splitMethod ${String(o.splitMethod)}`);
  if (o.splitCandidates !== 'all' && o.splitCandidates !== 'ml-cart') {
    throw new RangeError(`unknown splitCandidates ${String(o.splitCandidates)}`);
  }
  return o;
}
