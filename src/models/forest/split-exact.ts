/**
 * Exact splits over pre-sorted feature orders. Every feature's in-bag rows are kept
 * sorted per node (a stable partition after each split), so finding the best threshold
 * is one running-sum pass per feature per node instead of ml-cart's sort + rescan of all
 * rows per candidate (O(n) vs O(n^2) per node and feature). Segment entries are row ids
 * whose sign bit says "same value as the previous entry" (dataset.ts SAME_VALUE): the
 * scan reads 4 bytes per row sequentially and touches the (cache-unfriendly) feature
 * column only for the winning threshold. Training is memory-bound, so bytes moved per
 * entry by the partition are what the run time is made of.
 *
 * Rows are in (value, row index) order, threshold = (x[j-1] + x[j]) / 2, x < threshold
 * goes left (ml-cart and scikit-learn alike). 'all' candidates: every boundary between
 * distinct values (scikit-learn). 'ml-cart' candidates and tie-breaking: see cart-ties.ts.
 */
import { CartTieBreaker } from './cart-ties';
import { type Dataset, ROW_MASK as ROW_MASK_EXPORT, inBagOrders } from './dataset';
import { type BestSplit, type FeatureSampler, type NodeSplitter, TIE_EPS } from './tree';

// Local copies: CommonJS output from tsx/esbuild and swc reads imported bindings through
// getters, and a getter call per entry in the hot loops made training 2.5x slower.
const ROW_MASK = ROW_MASK_EXPORT;

export class ExactSplitter implements NodeSplitter {
  /**
   * Per feature f, flagged rows at buf[f * n + position]. Two buffers: a node
   * at depth d reads buffer d % 2 and partitions straight into buffer (d + 1) % 2, which
   * is one read and one write per entry instead of an in-place partition's extra copy.
   * Safe because the only other ranges in the target buffer that overlap [s, e) belong
   * to ancestors, which are already consumed.
   */
  private readonly bufs: readonly [Int32Array, Int32Array];
  /** Buffer of the node being searched (depth parity), for thresholdAt. */
  private cur: Int32Array;
  private readonly goLeft: Uint8Array;
  /** Interleaved (weight, target) per row: one cache line instead of two random reads. */
  private readonly wy: Float64Array;
  private readonly ties: CartTieBreaker | null;

  constructor(
    private readonly ds: Dataset,
    private readonly minLeaf: number,
    private readonly cartRule: boolean,
  ) {
    if (!ds.order) throw new Error('dataset was prepared without sorted orders (splitMethod must be exact)');
    this.bufs = [new Int32Array(ds.nFeatures * ds.nRows), new Int32Array(ds.nFeatures * ds.nRows)];
    this.cur = this.bufs[0];
    this.goLeft = new Uint8Array(ds.nRows);
    this.wy = new Float64Array(2 * ds.nRows);
    this.ties = cartRule ? new CartTieBreaker(ds, (f, j, tie) => this.thresholdAt(f, j, tie)) : null;
  }

  reset(_rows: Int32Array, _m: number, w: Float64Array): void {
    const { nRows: n, y } = this.ds;
    const ord = this.bufs[0];
    const wy = this.wy;
    for (let r = 0; r < n; r++) {
      wy[2 * r] = w[r]!;
      wy[2 * r + 1] = y[r]!;
    }
    inBagOrders(this.ds, w, ord);
  }

  find(s: number, e: number, depth: number, mu: number, wNode: number, sampler: FeatureSampler, best: BestSplit): boolean {
    const n = this.ds.nRows;
    const rank = this.ds.rank!;
    const ord = (this.cur = this.buf(depth));
    const wy = this.wy;
    const minLeaf = this.minLeaf;
    const allBoundaries = !this.cartRule;
    const cart = this.cartRule;
    // A candidate must beat the incumbent by this factor to win ('all' mode).
    const hi = 1 + TIE_EPS;
    const ties = this.ties;
    ties?.startNode(s, e, ord);
    const k = e - s;
    let bestGain = 0;
    let bestF = -1;
    let bestJ = 0; // first position on the right of the winning boundary
    let bestN = 0; // rows on the left
    let bestTie = false; // threshold is the value at bestJ (ml-cart's in-run candidate)
    let visited = 0;
    let informative = 0;
    // scikit-learn's rule: constant features count as draws, but drawing goes on until at
    // least one non-constant feature has been evaluated.
    while (visited < sampler.mtry || informative === 0) {
      const f = sampler.next();
      if (f < 0) break;
      visited++;
      const b = f * n;
      if (rank[b + (ord[b + s]! & ROW_MASK)] === rank[b + (ord[b + e - 1]! & ROW_MASK)]) {
        // ml-cart still offers "x < constant" (an empty left side) when y varies; as its
        // first candidate that turns the node into a leaf unless something beats it.
        if (ties && bestF < 0 && !ties.yConstant(f)) {
          bestF = f;
          bestJ = s;
          bestN = 0;
          bestTie = true;
        }
        continue;
      }
      informative++;
      let r = ord[b + s]! & ROW_MASK;
      let prevY = wy[2 * r + 1]!;
      let wL = wy[2 * r]!;
      let cL = wL * (prevY - mu);
      let runN = 0;
      let runC = 0;
      let runW = 0;
      // In ml-cart mode the node's first run may yield the empty-left candidate too.
      let runDone = !cart;
      for (let j = s + 1; j < e; j++) {
        const v = ord[b + j]!;
        r = v & ROW_MASK;
        const wr = wy[2 * r]!;
        const yv = wy[2 * r + 1]!;
        if (v >= 0) {
          const nL = j - s;
          runN = nL;
          runC = cL;
          runW = wL;
          runDone = allBoundaries || yv !== prevY;
          if (runDone && nL >= minLeaf && k - nL >= minLeaf) {
            // SSE decrease = cL^2 * W / (wL * wR) when sums are centred on the node mean;
            // centring avoids cancellation for targets with a large mean.
            const g = (cL * cL * wNode) / (wL * (wNode - wL));
            if (ties ? ties.accepts(g, f, j, false, bestGain, bestF, bestJ, bestTie, bestN) : g > 0 && g > bestGain * hi) {
              bestGain = g;
              bestF = f;
              bestJ = j;
              bestN = nL;
              bestTie = false;
            }
          }
        } else if (!runDone && yv !== prevY) {
          runDone = true;
          // runN = 0 is ml-cart's empty-left candidate (y varies inside the node's first run).
          if ((runN >= minLeaf || (cart && runN === 0)) && k - runN >= minLeaf) {
            const g = runN === 0 ? 0 : (runC * runC * wNode) / (runW * (wNode - runW));
            if (ties ? ties.accepts(g, f, j, true, bestGain, bestF, bestJ, bestTie, bestN) : g > 0 && g > bestGain * hi) {
              bestGain = g;
              bestF = f;
              bestJ = j;
              bestN = runN;
              bestTie = true;
            }
          }
        }
        wL += wr;
        cL += wr * (yv - mu);
        prevY = yv;
      }
    }
    // An empty side (ml-cart's degenerate candidate won) means ml-cart makes a leaf.
    if (bestF < 0 || bestN === 0) return false;
    best.feature = bestF;
    best.gain = bestGain;
    best.nLeft = bestN;
    best.threshold = this.thresholdAt(bestF, bestJ, bestTie);
    return true;
  }

  private buf(depth: number): Int32Array {
    return (depth & 1) === 0 ? this.bufs[0] : this.bufs[1];
  }

  /** Threshold of the boundary before position j of feature f's segment. */
  thresholdAt(f: number, j: number, tie: boolean): number {
    const { x, nRows: n } = this.ds;
    const b = f * n;
    const hi = x[b + (this.cur[b + j]! & ROW_MASK)]!;
    if (tie) return hi;
    const lo = x[b + (this.cur[b + j - 1]! & ROW_MASK)]!;
    const t = (lo + hi) / 2;
    // Adjacent doubles can round the midpoint down onto lo, which would change the
    // partition; hi then separates the same rows.
    return t > lo ? t : hi;
  }

  partition(s: number, e: number, depth: number, best: BestSplit, reorder: boolean): void {
    const { nRows: n, nFeatures: p } = this.ds;
    const rank = this.ds.rank!;
    const { goLeft, wy } = this;
    const src = this.buf(depth);
    const dst = this.buf(depth + 1);
    const fb = best.feature * n;
    // The split feature's segment is sorted, so its first nLeft rows are exactly the
    // rows with x < threshold.
    const cut = s + best.nLeft;
    let wL = 0, sL = 0, wR = 0, sR = 0;
    let pureL = true, pureR = true;
    const y0L = wy[2 * (src[fb + s]! & ROW_MASK) + 1]!;
    const y0R = wy[2 * (src[fb + cut]! & ROW_MASK) + 1]!;
    for (let j = s; j < e; j++) {
      const r = src[fb + j]! & ROW_MASK;
      const wr = wy[2 * r]!;
      const yv = wy[2 * r + 1]!;
      if (j < cut) {
        goLeft[r] = 1;
        wL += wr;
        sL += wr * yv;
        pureL &&= yv === y0L;
      } else {
        goLeft[r] = 0;
        wR += wr;
        sR += wr * yv;
        pureR &&= yv === y0R;
      }
    }
    best.veto = this.cartRule && pureL && pureR;
    best.wLeft = wL;
    best.sLeft = sL;
    best.wRight = wR;
    best.sRight = sR;
    if (!reorder || best.veto) return;
    for (let f = 0; f < p; f++) {
      const b = f * n;
      if (f === best.feature) {
        // Already left-then-right; only the first right entry's flag needs clearing.
        dst.set(src.subarray(b + s, b + e), b + s);
        dst[b + cut] = dst[b + cut]! & ROW_MASK;
        continue;
      }
      if (!this.cartRule && rank[b + (src[b + s]! & ROW_MASK)] === rank[b + (src[b + e - 1]! & ROW_MASK)]) {
        // Constant here means constant in every descendant, where only the end entries
        // of a range are read (rank comparison); write those and skip the rest.
        // (ml-cart mode's tie-breaker reads rows from any segment, so it gets full copies.)
        const row = src[b + s]! & ROW_MASK;
        dst[b + s] = dst[b + cut - 1] = dst[b + cut] = dst[b + e - 1] = row;
        continue;
      }
      // Branch-free stable scatter (the side is a coin flip the CPU cannot predict). Each
      // child's flag is "no value change since this child's previous entry".
      let l = b + s;
      let rr = b + cut;
      let chL = 1;
      let chR = 1;
      for (let q = b + s; q < b + e; q++) {
        const v = src[q]!;
        const r = v & ROW_MASK;
        const g = goLeft[r]!;
        const ch = (v >>> 31) ^ 1;
        chL |= ch;
        chR |= ch;
        const changed = chR + g * (chL - chR);
        dst[rr + g * (l - rr)] = r | ((changed ^ 1) << 31);
        chL &= g ^ 1;
        chR &= g;
        l += g;
        rr += 1 - g;
      }
    }
  }
}
