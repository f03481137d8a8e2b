/**
 * Shared numerics for the probabilistic CLV models: log-gamma, a stable
 * log-add-exp, the Gaussian hypergeometric series and a Nelder–Mead minimiser.
 * Pure functions, no dependencies.
 */

// Bind Math/Number members once: under Jest's vm context every global lookup
// goes through an interceptor, which made the fit ~15x slower in tests.
const { abs, exp, log, log1p, max, sin, PI } = Math;
const finite = Number.isFinite;
const NEG_INF = Number.NEGATIVE_INFINITY;
const POS_INF = Number.POSITIVE_INFINITY;

const LANCZOS_G = 7;
// Lanczos (g = 7, n = 9) coefficients: ~15 significant digits for Re(x) > 0.5.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * log(2 * PI);

/** ln|Γ(x)|. Exact-enough for likelihoods; x must not be a non-positive integer. */
export function lgamma(x: number): number {
  if (x < 0.5) {
    // Reflection keeps accuracy for tiny shape parameters (r ≈ 0.2 is common).
    return log(PI / abs(sin(PI * x))) - lgamma(1 - x);
  }
  const y = x - 1;
  let s = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i]! / (y + i);
  const t = y + LANCZOS_G + 0.5;
  return HALF_LOG_2PI + (y + 0.5) * log(t) - t + log(s);
}

/** ln B(a, b). */
export function lbeta(a: number, b: number): number {
  return lgamma(a) + lgamma(b) - lgamma(a + b);
}

/** ln(e^a + e^b) without overflow; -Infinity is a valid input (x = 0 customers). */
export function logAddExp(a: number, b: number): number {
  if (a === NEG_INF) return b;
  if (b === NEG_INF) return a;
  const m = max(a, b);
  return m + log1p(exp(-abs(a - b)));
}

export interface SignedLog {
  logAbs: number;
  sign: number;
}

const RESCALE = 1e200;
const LOG_RESCALE = log(RESCALE);

/**
 * Gaussian hypergeometric 2F1(a, b; c; z) for |z| < 1 by its power series,
 * returned as sign · exp(logAbs). The running sum is rescaled whenever it grows
 * past 1e200 because BG/NBD calls it with a = r + x, b = b + x where heavy
 * buyers make the terms astronomically large before the (1 - z)^(r+x) factor
 * brings the product back to O(1).
 */
export function hyp2f1Log(a: number, b: number, c: number, z: number, tol = 1e-15, maxTerms = 5_000_000): SignedLog {
  if (!(abs(z) < 1)) throw new RangeError(`hyp2f1: series needs |z| < 1, got ${z}`);
  let term = 1;
  let sum = 1;
  let logScale = 0;
  const absZ = abs(z);
  for (let n = 0; n < maxTerms; n++) {
    const denom = (c + n) * (n + 1);
    if (denom === 0) throw new RangeError('hyp2f1: c is a non-positive integer');
    const ratio = ((a + n) * (b + n)) / denom;
    term *= ratio * z;
    sum += term;
    if (term === 0) break; // a or b was a non-positive integer: polynomial.
    if (abs(sum) > RESCALE || abs(term) > RESCALE) {
      sum /= RESCALE;
      term /= RESCALE;
      logScale += LOG_RESCALE;
    }
    // Tail bound: once the term ratio is < 1 and heading to |z|, the rest is a
    // geometric series bounded by the larger of the current ratio and |z|.
    const q = max(abs(ratio * z), absZ);
    if (q < 1 && (abs(term) * q) / (1 - q) <= tol * abs(sum)) break;
  }
  return { logAbs: log(abs(sum)) + logScale, sign: sum < 0 ? -1 : 1 };
}

export function hyp2f1(a: number, b: number, c: number, z: number): number {
  const { logAbs, sign } = hyp2f1Log(a, b, c, z);
  return sign * exp(logAbs);
}

export interface NelderMeadOptions {
  /** Initial simplex edge length along each axis. */
  step?: number;
  /** Stop when the simplex's f-spread ≤ fTol·(1+|f_best|) and x-spread ≤ xTol. */
  fTol?: number;
  xTol?: number;
  maxIterations?: number;
  /** Fresh-simplex restarts from the best point; stops early once a restart no longer improves f. */
  restarts?: number;
  /**
   * Stop a run once the best point has not improved for this many iterations (default 200). On a flat ridge
   * (e.g. Gamma-Gamma's q, v → ∞ when spend barely varies) the objective is rounding noise and the simplex
   * never meets xTol: without this a fit spends every allowed iteration shuffling points around the same best.
   */
  stallIterations?: number;
}

export interface MinimizeResult {
  x: number[];
  fx: number;
  iterations: number;
  converged: boolean;
}

/** One Nelder–Mead run (standard coefficients 1, 2, 0.5, 0.5). Non-finite f counts as +Infinity. */
function nelderMeadOnce(f: (x: number[]) => number, x0: number[], step: number, fTol: number, xTol: number, maxIter: number, stall: number): MinimizeResult {
  const n = x0.length;
  const safe = (x: number[]): number => {
    const v = f(x);
    return finite(v) ? v : POS_INF;
  };
  const pts: number[][] = [x0.slice()];
  for (let i = 0; i < n; i++) {
    const p = x0.slice();
    p[i] = p[i]! + step;
    pts.push(p);
  }
  const vals = pts.map(safe);
  const order = pts.map((_, i) => i);
  const lerp = (from: number[], to: number[], t: number): number[] => from.map((v, i) => v + t * (to[i]! - v));
  let iter = 0;
  let bestSeen = POS_INF;
  let bestAt = 0;
  for (; iter < maxIter; iter++) {
    order.sort((i, j) => vals[i]! - vals[j]!);
    const best = order[0]!;
    if (vals[best]! < bestSeen) {
      bestSeen = vals[best]!;
      bestAt = iter;
    } else if (iter - bestAt >= stall) break;
    const worst = order[n]!;
    const second = order[n - 1]!;
    let fSpread = 0;
    let xSpread = 0;
    for (const i of order) {
      fSpread = max(fSpread, abs(vals[i]! - vals[best]!));
      for (let d = 0; d < n; d++) xSpread = max(xSpread, abs(pts[i]![d]! - pts[best]![d]!));
    }
    if (fSpread <= fTol * (1 + abs(vals[best]!)) && xSpread <= xTol) {
      return { x: pts[best]!, fx: vals[best]!, iterations: iter, converged: true };
    }
    const centroid = new Array<number>(n).fill(0);
    for (const i of order.slice(0, n)) for (let d = 0; d < n; d++) centroid[d]! += pts[i]![d]! / n;
    const xr = lerp(centroid, pts[worst]!, -1);
    const fr = safe(xr);
    if (fr < vals[best]!) {
      const xe = lerp(centroid, pts[worst]!, -2);
      const fe = safe(xe);
      [pts[worst], vals[worst]] = fe < fr ? [xe, fe] : [xr, fr];
    } else if (fr < vals[second]!) {
      [pts[worst], vals[worst]] = [xr, fr];
    } else {
      // Outside contraction if the reflection helped at all, otherwise inside.
      const outside = fr < vals[worst]!;
      const xc = lerp(centroid, outside ? xr : pts[worst]!, 0.5);
      const fc = safe(xc);
      if (fc < (outside ? fr : vals[worst]!)) {
        [pts[worst], vals[worst]] = [xc, fc];
      } else {
        for (const i of order.slice(1)) {
          pts[i] = lerp(pts[best]!, pts[i]!, 0.5);
          vals[i] = safe(pts[i]!);
        }
      }
    }
  }
  order.sort((i, j) => vals[i]! - vals[j]!);
  return { x: pts[order[0]!]!, fx: vals[order[0]!]!, iterations: iter, converged: false };
}

/**
 * Nelder–Mead with restarts. A collapsed simplex can stall on a ridge (the
 * BG/NBD surface has a long a/b valley), so we rebuild a fresh simplex at the
 * best point until a restart stops improving the objective.
 */
export function nelderMead(f: (x: number[]) => number, x0: number[], opts: NelderMeadOptions = {}): MinimizeResult {
  const step = opts.step ?? 0.5;
  const fTol = opts.fTol ?? 1e-12;
  const xTol = opts.xTol ?? 1e-8;
  const maxIter = opts.maxIterations ?? 20_000;
  const restarts = opts.restarts ?? 5;
  const stall = opts.stallIterations ?? 200;
  let best = nelderMeadOnce(f, x0, step, fTol, xTol, maxIter, stall);
  let iterations = best.iterations;
  // Converged means: the last run met the tolerances AND a restart confirmed it.
  let converged = restarts === 0 && best.converged;
  for (let k = 0; k < restarts; k++) {
    const next = nelderMeadOnce(f, best.x, step / 4, fTol, xTol, maxIter, stall);
    iterations += next.iterations;
    const improvement = best.fx - next.fx;
    // Back at the very same point: every further restart would replay this one exactly (deterministic).
    const same = next.x.every((v, d) => v === best.x[d]);
    if (next.fx <= best.fx) best = next;
    if (same && !next.converged) break;
    if (next.converged && improvement <= fTol * (1 + abs(best.fx)) * 10) {
      converged = true;
      break;
    }
  }
  return { ...best, iterations, converged: converged && finite(best.fx) };
}
