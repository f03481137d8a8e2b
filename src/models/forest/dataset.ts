/**
 * One-off preprocessing shared by all trees: a column-major copy of X, per-feature
 * sorted row orders (exact splits) and quantile bin codes (histogram splits). Doing
 * this once per training call is what removes ml-cart's per-node sort.
 */
import type { ForestOptions, Matrix } from './types';

export interface Dataset {
  nRows: number;
  nFeatures: number;
  /** Column-major features: x[f * nRows + r]. */
  x: Float64Array;
  y: Float64Array;
  /**
   * Exact mode: rows of feature f sorted by (value, row index) at order[f * nRows + i],
   * with SAME_VALUE set when the entry's value equals the previous entry's. The flag lets
   * the split scan find value boundaries without touching x (random reads) or carrying a
   * rank (twice the bytes to move on every partition).
   */
  order?: Int32Array;
  /** Exact mode: dense rank of row r for feature f at rank[f * nRows + r]. */
  rank?: Int32Array;
  /** Histogram mode: bin code of row r for feature f at codes[f * nRows + r]. */
  codes?: Uint8Array;
  /** Histogram mode: threshold separating bin b from b + 1 at binThreshold[f * 256 + b]. */
  binThreshold?: Float64Array;
  /** Histogram mode: number of bins actually used by each feature. */
  nBins?: Int32Array;
}

export function toColumnMajor(m: Matrix): Float64Array {
  if (m.data.length !== m.nRows * m.nCols) {
    throw new RangeError(`matrix data has ${m.data.length} values, expected ${m.nRows} x ${m.nCols}`);
  }
  if (m.layout === 'col') return m.data;
  const out = new Float64Array(m.data.length);
  const { nRows, nCols, data } = m;
  for (let r = 0; r < nRows; r++) {
    const base = r * nCols;
    for (let c = 0; c < nCols; c++) out[c * nRows + r] = data[base + c]!;
  }
  return out;
}

/**
 * Dense rank of every row of one column (equal values share a rank) plus the sorted
 * distinct values. Native Float64Array sort + binary search beats a comparator sort of
 * row indices by ~10x and is done once per feature, never per node.
 */
function denseRanks(col: Float64Array, rank: Int32Array): Float64Array {
  const sorted = col.slice().sort();
  let k = 0;
  for (let i = 0; i < sorted.length; i++) {
    // `!==` merges -0 and +0, matching how `<` will route them at prediction time.
    if (i === 0 || sorted[i] !== sorted[k - 1]) sorted[k++] = sorted[i]!;
  }
  const uniq = sorted.subarray(0, k);
  for (let r = 0; r < col.length; r++) {
    const v = col[r]!;
    let lo = 0;
    let hi = k - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (uniq[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    rank[r] = lo;
  }
  return uniq;
}

/** Sign bit of an order entry: same value as the previous entry. Rows are < 2^31. */
export const SAME_VALUE = 0x80000000 | 0;
export const ROW_MASK = 0x7fffffff;

/** Stable counting sort of rows by rank: ties keep row order, which is ml-cart's tie order. */
function orderByRank(rank: Int32Array, nUniq: number, out: Int32Array, outBase: number, counts: Int32Array): void {
  counts.fill(0, 0, nUniq + 1);
  for (let r = 0; r < rank.length; r++) counts[rank[r]! + 1]!++;
  for (let i = 1; i <= nUniq; i++) counts[i]! += counts[i - 1]!;
  for (let r = 0; r < rank.length; r++) out[outBase + counts[rank[r]!]!++] = r;
  for (let i = 1; i < rank.length; i++) {
    if (rank[out[outBase + i]!] === rank[out[outBase + i - 1]! & ROW_MASK]) out[outBase + i]! |= SAME_VALUE;
  }
}

/**
 * Greedy equal-frequency bins over distinct values. Distinct values never straddle a
 * bin, so a feature with ≤ maxBins distinct values is binned losslessly (exact splits).
 */
function binColumn(
  rank: Int32Array,
  uniq: Float64Array,
  maxBins: number,
  codes: Uint8Array,
  codeBase: number,
  thr: Float64Array,
  thrBase: number,
): number {
  const k = uniq.length;
  const n = rank.length;
  const count = new Int32Array(k);
  for (let r = 0; r < n; r++) count[rank[r]!]!++;
  const binOfRank = new Uint8Array(k);
  let bin = 0;
  let cum = 0;
  let binStart = 0;
  for (let i = 0; i < k; i++) {
    binOfRank[i] = bin;
    cum += count[i]!;
    // Target re-derived from what is left, so one huge value (e.g. 40% zeros) does not
    // starve the remaining bins.
    if (i < k - 1 && bin < maxBins - 1 && (k <= maxBins || cum - binStart >= (n - binStart) / (maxBins - bin))) {
      // Midpoint between the last value of this bin and the first of the next: ml-cart's convention.
      const t = (uniq[i]! + uniq[i + 1]!) / 2;
      thr[thrBase + bin] = t > uniq[i]! ? t : uniq[i + 1]!;
      bin++;
      binStart = cum;
    }
  }
  thr.fill(Infinity, thrBase + bin, thrBase + 256);
  for (let r = 0; r < n; r++) codes[codeBase + r] = binOfRank[rank[r]!]!;
  return bin + 1;
}

/**
 * Per-tree sorted orders: the global orders restricted to in-bag rows (w > 0), written
 * to out[f * nRows ...]. Filtering keeps them sorted without sorting again; the flag is
 * re-derived because a dropped row may have separated two different values.
 */
export function inBagOrders(ds: Dataset, w: Float64Array, out: Int32Array): void {
  const n = ds.nRows;
  const order = ds.order!;
  const same = SAME_VALUE;
  const mask = ROW_MASK;
  for (let f = 0; f < ds.nFeatures; f++) {
    const b = f * n;
    let k = b;
    let changed = 1;
    for (let j = b; j < b + n; j++) {
      const v = order[j]!;
      const r = v & mask;
      changed |= (v >>> 31) ^ 1;
      if (w[r]! > 0) {
        out[k++] = changed ? r : r | same;
        changed = 0;
      }
    }
  }
}

export function prepareDataset(X: Matrix, y: ArrayLike<number>, opts: ForestOptions): Dataset {
  const nRows = X.nRows;
  const nFeatures = X.nCols;
  if (y.length !== nRows) throw new RangeError(`y has ${y.length} values for ${nRows} rows`);
  if (nRows < 1 || nFeatures < 1) throw new RangeError('need at least one row and one feature');
  if (nFeatures > 32767) throw new RangeError('at most 32767 features (artifact stores int16 feature ids)');
  const x = toColumnMajor(X);
  for (let i = 0; i < x.length; i++) {
    // NaN/Infinity would silently break `<` routing and serialise to null in ml-random-forest JSON.
    if (!Number.isFinite(x[i]!)) throw new RangeError(`non-finite feature value at flat index ${i}`);
  }
  const yy = Float64Array.from(y);
  for (let i = 0; i < nRows; i++) {
    if (!Number.isFinite(yy[i]!)) throw new RangeError(`non-finite target at row ${i}`);
  }
  const ds: Dataset = { nRows, nFeatures, x, y: yy };
  const rank = new Int32Array(nRows);
  if (opts.splitMethod === 'exact') {
    ds.order = new Int32Array(nFeatures * nRows);
    ds.rank = new Int32Array(nFeatures * nRows);
    const counts = new Int32Array(nRows + 1);
    for (let f = 0; f < nFeatures; f++) {
      const uniq = denseRanks(x.subarray(f * nRows, (f + 1) * nRows), rank);
      ds.rank.set(rank, f * nRows);
      orderByRank(rank, uniq.length, ds.order, f * nRows, counts);
    }
  } else {
    ds.codes = new Uint8Array(nFeatures * nRows);
    ds.binThreshold = new Float64Array(nFeatures * 256);
    ds.nBins = new Int32Array(nFeatures);
    for (let f = 0; f < nFeatures; f++) {
      const uniq = denseRanks(x.subarray(f * nRows, (f + 1) * nRows), rank);
      ds.nBins[f] = binColumn(rank, uniq, opts.maxBins, ds.codes, f * nRows, ds.binThreshold, f * 256);
    }
  }
  return ds;
}
