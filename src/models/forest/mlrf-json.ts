/**
 * Conversion to and from the JSON model format of ml-random-forest 2.1
 * (RandomForestRegression.toJSON / load) and ml-cart 2.1 (DecisionTreeRegression).
 *
 * What ml-cart's loader actually reads from a node (TreeNode.setNodeParameters):
 *  - a node with `distribution !== undefined` is a leaf predicting `distribution`;
 *  - otherwise `splitColumn`, `splitValue`, `gain`, `left`, `right`; `x < splitValue`
 *    goes left. Other keys are ignored, so we add `mean` (the internal node's value)
 *    which our importer needs for path contributions.
 * ml-random-forest selects columns per tree: `splitColumn` indexes
 * `baseModel.indexes[tree]`, not the original feature list. We grow trees over all
 * features and export identity index lists.
 * JSON.stringify turns NaN/±Infinity into null (e.g. ml-cart's default maxDepth), so
 * everything numeric that must survive a round trip is kept finite.
 */
import { forestFromTrees, forestTrees } from './train';
import type { TreeArrays } from './tree';
import type { Forest } from './types';

export interface MlCartNode {
  splitColumn?: number;
  splitValue?: number;
  distribution?: number | null;
  mean?: number;
  left?: MlCartNode;
  right?: MlCartNode;
}

export interface MlCartRegressionJSON {
  name: 'DTRegression';
  options: Record<string, unknown>;
  root: MlCartNode;
}

export interface MlRandomForestRegressionJSON {
  name: 'RFRegression';
  selectionMethod: 'mean' | 'median';
  baseModel: {
    indexes: number[][];
    n: number;
    replacement: boolean;
    maxFeatures: number;
    nEstimators: number;
    treeOptions: Record<string, unknown>;
    isClassifier: boolean;
    seed: number;
    estimators: MlCartRegressionJSON[];
    useSampleBagging: boolean;
  };
}

const CART_OPTIONS = { gainFunction: 'regression', splitFunction: 'mean', minNumSamples: 3, kind: 'regression' };

export function treeToMlCartJSON(tree: TreeArrays, options: Record<string, unknown> = {}): MlCartRegressionJSON {
  const node = (i: number): MlCartNode => {
    const f = tree.feature[i]!;
    if (f < 0) return { distribution: tree.value[i]! };
    return {
      splitColumn: f,
      splitValue: tree.threshold[i]!,
      mean: tree.value[i]!,
      left: node(tree.left[i]!),
      right: node(tree.right[i]!),
    };
  };
  return { name: 'DTRegression', options: { ...CART_OPTIONS, ...options }, root: node(0) };
}

/**
 * Read an ml-cart regression tree. `columns` maps the tree's column numbers to feature
 * ids (ml-random-forest's per-tree `indexes`). Internal nodes without our `mean` key
 * get the plain average of their children: predictions are unaffected, contributions
 * become approximate because ml-cart does not store leaf sample counts.
 */
export function treeFromMlCartJSON(model: { root: MlCartNode }, columns?: ArrayLike<number>): TreeArrays {
  const feature: number[] = [];
  const threshold: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const value: number[] = [];
  const visit = (n: MlCartNode | undefined, depth: number): number => {
    if (!n || depth > 10000) throw new Error('malformed ml-cart tree');
    const id = feature.length;
    feature.push(-1);
    threshold.push(0);
    left.push(-1);
    right.push(-1);
    value.push(0);
    if (n.distribution !== undefined) {
      if (typeof n.distribution !== 'number') throw new Error('leaf without a numeric distribution (NaN/Infinity became null?)');
      value[id] = n.distribution;
      return id;
    }
    const col = n.splitColumn;
    const thr = n.splitValue;
    if (typeof col !== 'number' || typeof thr !== 'number') throw new Error('internal node without numeric splitColumn/splitValue');
    const f = columns ? columns[col] : col;
    if (f === undefined) throw new Error(`splitColumn ${col} is not in the tree's column list`);
    feature[id] = f;
    threshold[id] = thr;
    const l = visit(n.left, depth + 1);
    const r = visit(n.right, depth + 1);
    left[id] = l;
    right[id] = r;
    value[id] = typeof n.mean === 'number' ? n.mean : (value[l]! + value[r]!) / 2;
    return id;
  };
  visit(model.root, 0);
  return {
    nNodes: feature.length,
    feature: Int32Array.from(feature),
    threshold: Float64Array.from(threshold),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    value: Float64Array.from(value),
  };
}

export interface ExportMeta {
  /** Recorded in treeOptions for provenance only; the loader ignores them. */
  treeOptions?: Record<string, unknown>;
  useSampleBagging?: boolean;
}

export function forestToMlRandomForestJSON(f: Forest, meta: ExportMeta = {}): MlRandomForestRegressionJSON {
  const all = Array.from({ length: f.nFeatures }, (_, i) => i);
  return {
    name: 'RFRegression',
    selectionMethod: 'mean',
    baseModel: {
      indexes: Array.from({ length: f.nTrees }, () => all.slice()),
      n: f.nFeatures,
      replacement: false,
      // Float 1.0 means "all features" to ml-random-forest (checkFloat runs first).
      maxFeatures: 1,
      nEstimators: f.nTrees,
      treeOptions: meta.treeOptions ?? {},
      isClassifier: false,
      seed: f.seeds[0] ?? 0,
      estimators: forestTrees(f).map((t) => treeToMlCartJSON(t, meta.treeOptions)),
      useSampleBagging: meta.useSampleBagging ?? true,
    },
  };
}

/**
 * Import an ml-random-forest regression model. Only `selectionMethod: 'mean'` is
 * supported (our predictor averages). nFeatures defaults to 1 + the largest feature id
 * in `indexes`, which undercounts if the last features were never selected.
 */
export function forestFromMlRandomForestJSON(model: MlRandomForestRegressionJSON, nFeatures?: number): Forest {
  if (model.name !== 'RFRegression') throw new Error(`expected an RFRegression model, got ${String(model.name)}`);
  if (model.selectionMethod !== 'mean') throw new Error(`selectionMethod ${model.selectionMethod} is not supported`);
  const bm = model.baseModel;
  // The loader predicts with the first nEstimators trees only; mirror that.
  const ests = bm.estimators.slice(0, bm.nEstimators);
  const trees = ests.map((e, i) => treeFromMlCartJSON(e, bm.indexes[i]));
  const maxId = bm.indexes.reduce((a, idx) => idx.reduce((b, v) => Math.max(b, v), a), -1);
  const p = nFeatures ?? maxId + 1;
  for (const t of trees) if (t.feature.some((v) => v >= p)) throw new RangeError('tree uses a feature beyond nFeatures');
  return forestFromTrees(p, trees);
}
