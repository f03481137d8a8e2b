/**
 * Forest training entry points. Everything here is a pure function of its inputs (no
 * I/O, no globals, no Math.random) so it can run in a worker thread, and trees depend
 * only on their own seed so chunks trained in different processes can be merged.
 */
import { type Dataset, prepareDataset } from './dataset';
import { Mulberry32, treeSeeds } from './rng';
import { ExactSplitter } from './split-exact';
import { HistSplitter } from './split-hist';
import { FeatureSampler, type NodeSplitter, type TreeArrays, growTree, mtryOf } from './tree';
import { type Forest, type ForestOptions, type Matrix, type ProgressFn, resolveOptions } from './types';

/** Train `options.nEstimators` trees seeded from `options.seed`. */
export function trainForest(
  X: Matrix,
  y: ArrayLike<number>,
  options: Partial<ForestOptions> = {},
  onProgress?: ProgressFn,
): Forest {
  const opts = resolveOptions(options);
  return trainTrees(X, y, opts, treeSeeds(opts.seed, opts.nEstimators), onProgress);
}

/**
 * Train one tree per seed (nEstimators is ignored). With seeds from
 * `treeSeeds(seed, n, first)` for disjoint ranges, `mergeForests` of the chunks equals
 * `trainForest` with the same seed, bit for bit.
 */
export function trainTrees(
  X: Matrix,
  y: ArrayLike<number>,
  options: Partial<ForestOptions>,
  seeds: ArrayLike<number>,
  onProgress?: ProgressFn,
): Forest {
  const opts = resolveOptions(options);
  return trainTreesOn(prepareDataset(X, y, opts), opts, seeds, onProgress);
}

/**
 * Per-dataset scratch memory of tree growth: the splitter's buffers (two copies of every feature's row order,
 * ~40 MB at 140k rows and 35 features) and the bag arrays. Reused across calls on the same dataset: a fresh
 * allocation per call is external memory that makes V8 collect the whole heap: in a process holding millions of
 * small objects (a worker's histories), chunks of 2 trees took 28% longer, chunks of 6 5% (bench/forest-heap.bench.ts).
 */
export interface TreeWorkspace {
  ds: Dataset;
  minLeaf: number;
  method: ForestOptions['splitMethod'];
  cart: boolean;
  splitter: NodeSplitter;
  w: Float64Array;
  rows: Int32Array;
  perm: Int32Array;
}

export function treeWorkspace(ds: Dataset, opts: ForestOptions): TreeWorkspace {
  const n = ds.nRows;
  const cart = opts.splitCandidates === 'ml-cart';
  const splitter: NodeSplitter =
    opts.splitMethod === 'exact' ? new ExactSplitter(ds, opts.minSamplesLeaf, cart) : new HistSplitter(ds, opts.minSamplesLeaf);
  return { ds, minLeaf: opts.minSamplesLeaf, method: opts.splitMethod, cart, splitter, w: new Float64Array(n), rows: new Int32Array(n), perm: new Int32Array(n) };
}

/** As `trainTrees`, on a dataset already prepared with the same split method (and a workspace made for it, if given). */
export function trainTreesOn(ds: Dataset, opts: ForestOptions, seeds: ArrayLike<number>, onProgress?: ProgressFn, workspace?: TreeWorkspace): Forest {
  const n = ds.nRows;
  const p = ds.nFeatures;
  const ws = workspace ?? treeWorkspace(ds, opts);
  if (ws.ds !== ds || ws.minLeaf !== opts.minSamplesLeaf || ws.method !== opts.splitMethod || ws.cart !== (opts.splitCandidates === 'ml-cart')) {
    throw new Error('tree workspace was made for another dataset or other split options');
  }
  const { splitter, w, rows, perm } = ws;
  const importance = new Float64Array(seeds.length * p);
  const trees: TreeArrays[] = [];
  const nDraw = Math.max(1, Math.round(opts.sampleFraction * n));
  const mtry = mtryOf(opts, p);
  for (let t = 0; t < seeds.length; t++) {
    const rng = new Mulberry32(seeds[t]!);
    w.fill(0);
    if (opts.bootstrap) {
      // Random rows with replacement; ml-random-forest's maxSamples takes the FIRST rows.
      for (let i = 0; i < nDraw; i++) w[rng.below(n)]!++;
    } else {
      for (let i = 0; i < n; i++) perm[i] = i;
      for (let i = 0; i < nDraw; i++) {
        const j = i + rng.below(n - i);
        const r = perm[j]!;
        perm[j] = perm[i]!;
        perm[i] = r;
        w[r] = 1;
      }
    }
    // Ascending row order is what makes ties resolve like ml-cart (stable by row).
    let m = 0;
    for (let r = 0; r < n; r++) if (w[r]! > 0) rows[m++] = r;
    const sampler = new FeatureSampler(p, mtry, rng);
    trees.push(growTree(ds, opts, splitter, sampler, rows, m, w, importance.subarray(t * p, (t + 1) * p)));
    onProgress?.(t + 1, seeds.length);
  }
  return assemble(p, trees, importance, Uint32Array.from(seeds));
}

function assemble(nFeatures: number, trees: TreeArrays[], importance: Float64Array, seeds: Uint32Array): Forest {
  const total = trees.reduce((a, t) => a + t.nNodes, 0);
  const f: Forest = {
    nFeatures,
    nTrees: trees.length,
    treeStart: new Int32Array(trees.length + 1),
    feature: new Int32Array(total),
    threshold: new Float64Array(total),
    left: new Int32Array(total),
    right: new Int32Array(total),
    value: new Float64Array(total),
    importance,
    seeds,
  };
  let off = 0;
  trees.forEach((t, i) => {
    f.treeStart[i] = off;
    f.feature.set(t.feature, off);
    f.threshold.set(t.threshold, off);
    f.value.set(t.value, off);
    for (let j = 0; j < t.nNodes; j++) {
      f.left[off + j] = t.left[j]! < 0 ? -1 : t.left[j]! + off;
      f.right[off + j] = t.right[j]! < 0 ? -1 : t.right[j]! + off;
    }
    off += t.nNodes;
  });
  f.treeStart[trees.length] = off;
  return f;
}

/** Split a forest back into per-tree arrays with tree-relative child indices. */
export function forestTrees(f: Forest): TreeArrays[] {
  const out: TreeArrays[] = [];
  for (let t = 0; t < f.nTrees; t++) {
    const a = f.treeStart[t]!;
    const b = f.treeStart[t + 1]!;
    const rel = (v: Int32Array): Int32Array => v.slice(a, b).map((c) => (c < 0 ? -1 : c - a));
    out.push({
      nNodes: b - a,
      feature: f.feature.slice(a, b),
      threshold: f.threshold.slice(a, b),
      left: rel(f.left),
      right: rel(f.right),
      value: f.value.slice(a, b),
    });
  }
  return out;
}

/** Concatenate forests (e.g. chunks trained in parallel) in the given order. */
export function mergeForests(parts: readonly Forest[]): Forest {
  if (parts.length === 0) throw new RangeError('nothing to merge');
  const p = parts[0]!.nFeatures;
  if (parts.some((f) => f.nFeatures !== p)) throw new RangeError('forests have different feature counts');
  const importance = new Float64Array(parts.reduce((a, f) => a + f.importance.length, 0));
  const seeds = new Uint32Array(parts.reduce((a, f) => a + f.seeds.length, 0));
  let io = 0;
  let so = 0;
  for (const f of parts) {
    importance.set(f.importance, io);
    seeds.set(f.seeds, so);
    io += f.importance.length;
    so += f.seeds.length;
  }
  return assemble(p, parts.flatMap(forestTrees), importance, seeds);
}

/** Assemble a forest from standalone trees (used by the JSON / artifact readers). */
export function forestFromTrees(
  nFeatures: number,
  trees: TreeArrays[],
  importance = new Float64Array(trees.length * nFeatures),
  seeds = new Uint32Array(trees.length),
): Forest {
  return assemble(nFeatures, trees, importance, seeds);
}
