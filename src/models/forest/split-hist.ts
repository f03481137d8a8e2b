/**
 * Histogram splits over ≤ 256 quantile bins per feature (the LightGBM / scikit-learn
 * HistGradientBoosting idea). Only one row list is partitioned per split, instead of one
 * per feature, and the per-node cost is a gather into 256 buckets.
 */
import type { Dataset } from './dataset';
import { type BestSplit, type FeatureSampler, type NodeSplitter, isBetter as isBetterExport } from './tree';

// Local copy: CommonJS output (tsx/esbuild, swc) reads imported bindings through getters.
const isBetter = isBetterExport;

/** Below this many touched bins, sorting the touched list beats scanning every bin. */
const SPARSE_BINS = 32;

export class HistSplitter implements NodeSplitter {
  private readonly rows: Int32Array;
  private readonly tmp: Int32Array;
  /** Per position in the current node: bag weight and weight * (y - node mean). */
  private readonly wPos: Float64Array;
  private readonly cPos: Float64Array;
  private readonly hW = new Float64Array(256);
  private readonly hC = new Float64Array(256);
  private readonly hN = new Int32Array(256);
  private readonly touched = new Int32Array(256);
  private w: Float64Array = new Float64Array(0);
  private bestBin = 0;

  constructor(
    private readonly ds: Dataset,
    private readonly minLeaf: number,
  ) {
    if (!ds.codes) throw new Error('dataset was prepared without bins (splitMethod must be hist)');
    this.rows = new Int32Array(ds.nRows);
    this.tmp = new Int32Array(ds.nRows);
    this.wPos = new Float64Array(ds.nRows);
    this.cPos = new Float64Array(ds.nRows);
  }

  reset(rows: Int32Array, m: number, w: Float64Array): void {
    this.w = w;
    this.rows.set(rows.subarray(0, m));
  }

  find(s: number, e: number, _depth: number, mu: number, wNode: number, sampler: FeatureSampler, best: BestSplit): boolean {
    const { y, nRows: n } = this.ds;
    const codes = this.ds.codes!;
    const binThr = this.ds.binThreshold!;
    const nBins = this.ds.nBins!;
    const { rows, w, wPos, cPos, hW, hC, hN, touched } = this;
    const minLeaf = this.minLeaf;
    const k = e - s;
    // Centre once per node; every sampled feature reuses these contiguous arrays.
    for (let j = s; j < e; j++) {
      const r = rows[j]!;
      wPos[j] = w[r]!;
      cPos[j] = w[r]! * (y[r]! - mu);
    }
    best.feature = -1;
    best.gain = 0;
    let visited = 0;
    let informative = 0;
    // scikit-learn's rule: constant features count as draws, but drawing goes on until at
    // least one non-constant feature has been evaluated.
    while (visited < sampler.mtry || informative === 0) {
      const f = sampler.next();
      if (f < 0) break;
      visited++;
      const cb = f * n;
      let nt = 0;
      for (let j = s; j < e; j++) {
        const bin = codes[cb + rows[j]!]!;
        if (hN[bin]!++ === 0) touched[nt++] = bin;
        hW[bin]! += wPos[j]!;
        hC[bin]! += cPos[j]!;
      }
      if (nt >= 2) {
        informative++;
        const sparse = nt <= SPARSE_BINS;
        if (sparse) insertionSort(touched, nt);
        const end = sparse ? nt : nBins[f]!;
        let wL = 0, cL = 0, nL = 0;
        for (let i = 0; i < end; i++) {
          const bin = sparse ? touched[i]! : i;
          const c = hN[bin]!;
          if (c === 0) continue;
          nL += c;
          wL += hW[bin]!;
          cL += hC[bin]!;
          if (nL >= minLeaf && k - nL >= minLeaf) {
            const g = (cL * cL * wNode) / (wL * (wNode - wL));
            if (isBetter(g, best.gain)) {
              best.feature = f;
              best.gain = g;
              best.nLeft = nL;
              best.threshold = binThr[f * 256 + bin]!;
              this.bestBin = bin;
            }
          }
        }
      }
      for (let i = 0; i < nt; i++) {
        const bin = touched[i]!;
        hN[bin] = 0;
        hW[bin] = 0;
        hC[bin] = 0;
      }
    }
    return best.feature >= 0;
  }

  partition(s: number, e: number, _depth: number, best: BestSplit, reorder: boolean): void {
    const { y, nRows: n } = this.ds;
    const codes = this.ds.codes!;
    const { rows, tmp, w } = this;
    const cb = best.feature * n;
    const bin = this.bestBin;
    let wL = 0, sL = 0, wR = 0, sR = 0;
    let l = s;
    let t = 0;
    for (let j = s; j < e; j++) {
      const r = rows[j]!;
      const wr = w[r]!;
      if (codes[cb + r]! <= bin) {
        rows[l++] = r;
        wL += wr;
        sL += wr * y[r]!;
      } else {
        tmp[t++] = r;
        wR += wr;
        sR += wr * y[r]!;
      }
    }
    // Always restore the right rows (cheap) so the row list stays a permutation even
    // when both children are leaves; `reorder` only matters for the exact splitter.
    void reorder;
    for (let i = 0; i < t; i++) rows[l + i] = tmp[i]!;
    best.veto = false;
    best.nLeft = l - s;
    best.wLeft = wL;
    best.sLeft = sL;
    best.wRight = wR;
    best.sRight = sR;
  }
}

function insertionSort(a: Int32Array, len: number): void {
  for (let i = 1; i < len; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}
