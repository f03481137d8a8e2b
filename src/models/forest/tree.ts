/**
 * Growth of one regression tree, independent of how candidate splits are found.
 * Nodes are emitted in preorder (left child = parent + 1), which the artifact relies on
 * to avoid storing left-child pointers.
 */
import type { Dataset } from './dataset';
import type { Mulberry32 } from './rng';
import type { ForestOptions } from './types';

export interface BestSplit {
  feature: number;
  threshold: number;
  /** Weighted between-child sum of squares = SSE decrease; larger is better. */
  gain: number;
  /** Distinct rows going left. */
  nLeft: number;
  // Filled by partition(): weight and weighted target sum of each child.
  wLeft: number;
  sLeft: number;
  wRight: number;
  sRight: number;
  /**
   * Set by partition() to veto the split: ml-cart mode reproduces ml-cart's refusal of
   * a split whose children are both pure (its "gain" is the post-split SSE, required > 0).
   */
  veto: boolean;
}

export function emptySplit(): BestSplit {
  return { feature: -1, threshold: 0, gain: 0, nLeft: 0, wLeft: 0, sLeft: 0, wRight: 0, sRight: 0, veto: false };
}

/**
 * A splitter owns the per-tree row bookkeeping; a node is a range [s, e) of positions
 * over the tree's distinct in-bag rows.
 */
export interface NodeSplitter {
  /** New tree: `rows` are the distinct in-bag rows in ascending order, `w` their bag counts. */
  reset(rows: Int32Array, m: number, w: Float64Array): void;
  /** Best split of [s, e) around node mean `mu`; returns false if no admissible split. */
  find(s: number, e: number, depth: number, mu: number, wNode: number, sampler: FeatureSampler, best: BestSplit): boolean;
  /**
   * Fill the child sums in `best` and, when `reorder` (some child may still split),
   * reorder [s, e) so the left child's rows come first.
   */
  partition(s: number, e: number, depth: number, best: BestSplit, reorder: boolean): void;
}

/** Relative margin a candidate must win by; see `isBetter`. */
export const TIE_EPS = 1e-10;

/**
 * Candidates that are mathematically tied (e.g. the same partition reached through two
 * features) differ only by summation-order rounding; treating them as ties makes the
 * first one win, as scikit-learn's and ml-cart's strict comparisons do on equal errors.
 * (ml-cart mode settles near-ties with ml-cart's own arithmetic instead: cart-ties.ts.)
 */
export function isBetter(gain: number, best: number): boolean {
  return gain > 0 && gain > best + TIE_EPS * best;
}

/** Draws features for one node: all in index order, or a fresh random subset per split. */
export class FeatureSampler {
  private readonly perm: Int32Array;
  private i = 0;
  constructor(
    readonly nFeatures: number,
    readonly mtry: number,
    private readonly rng: Mulberry32,
  ) {
    this.perm = new Int32Array(nFeatures);
    for (let f = 0; f < nFeatures; f++) this.perm[f] = f;
  }
  start(): void {
    this.i = 0;
  }
  /** Next feature to try, or -1 when every feature has been offered. */
  next(): number {
    const p = this.nFeatures;
    if (this.i >= p) return -1;
    // Partial Fisher-Yates: uniform without replacement; all-features mode keeps index
    // order so ties resolve to the lowest feature, as in ml-cart.
    if (this.mtry < p) {
      const j = this.i + this.rng.below(p - this.i);
      const t = this.perm[j]!;
      this.perm[j] = this.perm[this.i]!;
      this.perm[this.i] = t;
    }
    return this.perm[this.i++]!;
  }
}

export function mtryOf(opts: ForestOptions, nFeatures: number): number {
  return Math.max(1, Math.min(nFeatures, Math.floor(opts.maxFeatures * nFeatures + 1e-9)));
}

/** One grown tree with tree-relative child indices. */
export interface TreeArrays {
  nNodes: number;
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
}

class TreeWriter {
  n = 0;
  feature = new Int32Array(256);
  threshold = new Float64Array(256);
  left = new Int32Array(256);
  right = new Int32Array(256);
  value = new Float64Array(256);
  add(value: number): number {
    if (this.n === this.feature.length) this.grow();
    const id = this.n++;
    this.feature[id] = -1;
    this.left[id] = -1;
    this.right[id] = -1;
    this.value[id] = value;
    return id;
  }
  private grow(): void {
    const c = this.feature.length * 2;
    const g = <T extends Int32Array | Float64Array>(a: T, b: T): T => (b.set(a), b);
    this.feature = g(this.feature, new Int32Array(c));
    this.threshold = g(this.threshold, new Float64Array(c));
    this.left = g(this.left, new Int32Array(c));
    this.right = g(this.right, new Int32Array(c));
    this.value = g(this.value, new Float64Array(c));
  }
  finish(): TreeArrays {
    const n = this.n;
    return {
      nNodes: n,
      feature: this.feature.slice(0, n),
      threshold: this.threshold.slice(0, n),
      left: this.left.slice(0, n),
      right: this.right.slice(0, n),
      value: this.value.slice(0, n),
    };
  }
}

/**
 * Depth-first growth with an explicit stack (right pushed before left) so that ids come
 * out in preorder. `importance` receives the SSE decrease of every split by feature.
 */
export function growTree(
  ds: Dataset,
  opts: ForestOptions,
  splitter: NodeSplitter,
  sampler: FeatureSampler,
  rows: Int32Array,
  m: number,
  w: Float64Array,
  importance: Float64Array,
): TreeArrays {
  splitter.reset(rows, m, w);
  const y = ds.y;
  const round = opts.float32Values ? Math.fround : (v: number): number => v;
  let W = 0;
  let S = 0;
  for (let i = 0; i < m; i++) {
    const r = rows[i]!;
    W += w[r]!;
    S += w[r]! * y[r]!;
  }
  // Stack depth is bounded by tree depth + 1, and depth ≤ m.
  const cap = Math.min(m, Number.isFinite(opts.maxDepth) ? opts.maxDepth : m) + 3;
  const stS = new Int32Array(cap), stE = new Int32Array(cap), stD = new Int32Array(cap), stP = new Int32Array(cap);
  const stR = new Uint8Array(cap), stW = new Float64Array(cap), stSum = new Float64Array(cap);
  stS[0] = 0; stE[0] = m; stD[0] = 0; stP[0] = -1; stR[0] = 0; stW[0] = W; stSum[0] = S;
  let top = 1;
  const out = new TreeWriter();
  const best = emptySplit();
  const minSplit = Math.max(opts.minSamplesSplit, 2 * opts.minSamplesLeaf);
  while (top > 0) {
    top--;
    const s = stS[top]!, e = stE[top]!, depth = stD[top]!, parent = stP[top]!, isRight = stR[top]!;
    const wNode = stW[top]!, sNode = stSum[top]!;
    const mu = sNode / wNode;
    const id = out.add(round(mu));
    if (parent >= 0) {
      if (isRight) out.right[parent] = id;
      else out.left[parent] = id;
    }
    if (depth >= opts.maxDepth || e - s < minSplit) continue;
    sampler.start();
    if (!splitter.find(s, e, depth, mu, wNode, sampler, best)) continue;
    const nL = best.nLeft;
    const childCanSplit = depth + 1 < opts.maxDepth && Math.max(nL, e - s - nL) >= minSplit;
    splitter.partition(s, e, depth, best, childCanSplit);
    if (best.veto) continue;
    out.feature[id] = best.feature;
    out.threshold[id] = best.threshold;
    importance[best.feature]! += best.gain;
    const mid = s + best.nLeft;
    stS[top] = mid; stE[top] = e; stD[top] = depth + 1; stP[top] = id; stR[top] = 1; stW[top] = best.wRight; stSum[top] = best.sRight;
    top++;
    stS[top] = s; stE[top] = mid; stD[top] = depth + 1; stP[top] = id; stR[top] = 0; stW[top] = best.wLeft; stSum[top] = best.sLeft;
    top++;
  }
  const tree = out.finish();
  setNodeMeans(tree, ds, rows, m, w, round);
  return tree;
}

/**
 * Recompute every node mean by routing the in-bag rows in ascending row order. The
 * splitters sum in feature order, which differs from ml-cart's (row order) in the last
 * bits; summing like ml-array-mean makes leaf values bit-identical to ml-cart's and
 * independent of the split method. Costs one root-to-leaf walk per in-bag row.
 */
function setNodeMeans(
  tree: TreeArrays,
  ds: Dataset,
  rows: Int32Array,
  m: number,
  w: Float64Array,
  round: (v: number) => number,
): void {
  const { x, y, nRows: n } = ds;
  const { feature, threshold, left, right, value } = tree;
  const sw = new Float64Array(tree.nNodes);
  const sy = new Float64Array(tree.nNodes);
  for (let i = 0; i < m; i++) {
    const r = rows[i]!;
    const wr = w[r]!;
    const wy = wr * y[r]!;
    let node = 0;
    for (;;) {
      sw[node]! += wr;
      sy[node]! += wy;
      const f = feature[node]!;
      if (f < 0) break;
      node = x[f * n + r]! < threshold[node]! ? left[node]! : right[node]!;
    }
  }
  for (let i = 0; i < tree.nNodes; i++) value[i] = round(sy[i]! / sw[i]!);
}
