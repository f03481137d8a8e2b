/**
 * ml-cart mode ('ml-cart' splitCandidates): reproduces DecisionTreeRegression bit for
 * bit with all features and no bagging.
 *
 * Candidates: only where adjacent targets differ (`y[j-1] !== y[j]`); at such a boundary
 * inside a run of equal x the threshold is x[j] itself (the partition at the start of the
 * run), and "x < min" (an empty left side) is a candidate too, which makes a leaf if it
 * wins. Skipping equal-y boundaries loses nothing when leaves may hold one row (the SSE
 * gain is convex along an equal-y block), but with minSamplesLeaf > 1 the best admissible
 * split can sit inside such a block, which is why it is not the default.
 *
 * With discrete targets, different partitions often have mathematically equal SSE.
 * ml-cart then keeps whichever its own floating-point SSE rounds lower (strict `<`, first
 * wins on exact equality). Our running-sum gains round differently, so for candidates
 * within a hair of the current best we recompute the error exactly the way ml-cart does:
 * TreeNode.split keeps the node's rows in original row order, utils.squaredError takes
 * the mean (ml-array-sum, left to right, / length) and then sums squared deviations, and
 * regressionError adds greater then lesser. Bootstrap weights are ignored: ml-cart has
 * none, and this path exists for the unbagged parity comparison.
 */
import { type Dataset, ROW_MASK as ROW_MASK_EXPORT } from './dataset';

// Local copy: CommonJS output (tsx/esbuild, swc) reads imported bindings through getters.
const ROW_MASK = ROW_MASK_EXPORT;

/** Relative gain difference under which two candidates are settled by ml-cart's arithmetic. */
export const CART_TIE_BAND = 1e-9;

export class CartTieBreaker {
  private readonly rowsAsc: Int32Array;
  /** The splitter's flagged row segments for the current node, at f * nRows + position. */
  private ord: Int32Array = new Int32Array(0);
  private k = 0;
  private s = 0;
  private e = 0;
  private ready = false;
  // Key and ml-cart error of the incumbent, so a run of near-ties computes it once.
  private cachedF = -1;
  private cachedJ = -1;
  private cachedTie = false;
  private cachedErr = 0;

  constructor(
    private readonly ds: Dataset,
    private readonly thresholdAt: (f: number, j: number, tie: boolean) => number,
  ) {
    this.rowsAsc = new Int32Array(ds.nRows);
  }

  startNode(s: number, e: number, ord: Int32Array): void {
    this.ord = ord;
    this.s = s;
    this.e = e;
    this.ready = false;
    this.cachedF = -1;
  }

  /**
   * ml-cart takes its first candidate whatever its error, then anything with a strictly
   * lower error. Clear wins are decided on our gains; near-ties (including "no gain"
   * against the empty-side candidate, bN = 0) with ml-cart's arithmetic.
   */
  accepts(g: number, f: number, j: number, tie: boolean, bestGain: number, bf: number, bj: number, bTie: boolean, bN: number): boolean {
    if (bf < 0) return true;
    const inc = (): number => this.incumbentError(bf, bj, bTie);
    if (bN > 0) {
      if (g > bestGain * (1 + CART_TIE_BAND)) return true;
      if (g < bestGain * (1 - CART_TIE_BAND)) return false;
    } else if (g > CART_TIE_BAND * inc()) {
      return true;
    }
    return this.error(f, this.thresholdAt(f, j, tie)) < inc();
  }

  /** Whether every row of the node has the same target (then ml-cart has no candidate). */
  yConstant(f: number): boolean {
    const { ord } = this;
    const y = this.ds.y;
    const b = f * this.ds.nRows;
    const y0 = y[ord[b + this.s]! & ROW_MASK]!;
    for (let j = this.s + 1; j < this.e; j++) if (y[ord[b + j]! & ROW_MASK]! !== y0) return false;
    return true;
  }

  private incumbentError(bf: number, bj: number, bTie: boolean): number {
    if (this.cachedF !== bf || this.cachedJ !== bj || this.cachedTie !== bTie) {
      this.cachedErr = this.error(bf, this.thresholdAt(bf, bj, bTie));
      this.cachedF = bf;
      this.cachedJ = bj;
      this.cachedTie = bTie;
    }
    return this.cachedErr;
  }

  /** Load the node's rows in row order: ml-cart keeps the original order within a node. */
  private prepare(): void {
    const count = this.e - this.s;
    const from = this.s; // feature 0's segment holds the same rows as any other
    for (let i = 0; i < count; i++) this.rowsAsc[i] = this.ord[from + i]! & ROW_MASK;
    this.rowsAsc.subarray(0, count).sort();
    this.k = count;
    this.ready = true;
  }

  /** ml-cart's regressionError for the split `x[f] < thr`, bit for bit. */
  private error(f: number, thr: number): number {
    if (!this.ready) this.prepare();
    const { x, y, nRows: n } = this.ds;
    const rows = this.rowsAsc;
    let sL = 0, nL = 0, sG = 0, nG = 0;
    for (let i = 0; i < this.k; i++) {
      const r = rows[i]!;
      if (x[f * n + r]! < thr) {
        sL += y[r]!;
        nL++;
      } else {
        sG += y[r]!;
        nG++;
      }
    }
    const mL = sL / nL;
    const mG = sG / nG;
    let eL = 0, eG = 0;
    for (let i = 0; i < this.k; i++) {
      const r = rows[i]!;
      const v = y[r]!;
      if (x[f * n + r]! < thr) eL += (v - mL) * (v - mL);
      else eG += (v - mG) * (v - mG);
    }
    let error = 0.0;
    error += nG > 0 ? eG : 0;
    error += nL > 0 ? eL : 0;
    return error;
  }
}
