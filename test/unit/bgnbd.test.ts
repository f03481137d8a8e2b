import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bgNbdLogLikelihood,
  compressBgNbd,
  expectedPurchases,
  expectedPurchasesNewCustomer,
  fitBgNbd,
  probabilityAlive,
  type BgNbdFit,
  type BgNbdParams,
} from '../../src/models/bgnbd';
import { customerLifetimeValue, expectedAverageSpend, fitGammaGamma, type GammaGammaFit } from '../../src/models/gamma-gamma';
import { hyp2f1, lgamma, nelderMead } from '../../src/models/numeric';

// Committed fixture (scripts/make-cdnow-fixture.ts): unique [x, tx, T, m, count] rows, weeks.
interface Fixture {
  customers: number;
  rows: [number, number, number, number, number][];
}
const fixture = JSON.parse(readFileSync(join(__dirname, '../fixtures/cdnow-calibration.json'), 'utf8')) as Fixture;
const col = (k: number): number[] => fixture.rows.map((r) => r[k]!);
const data = { x: col(0), tx: col(1), T: col(2), weights: col(4) };

const relErr = (got: number, want: number): number => Math.abs(got - want) / Math.abs(want);

/** Composite Simpson on [lo, hi] (n even) for a vector-valued integrand. */
function simpson(f: (u: number) => number[], lo: number, hi: number, n = 400): number[] {
  const h = (hi - lo) / n;
  const acc = f(lo).map((v, k) => v + f(hi)[k]!);
  for (let i = 1; i < n; i++) f(lo + i * h).forEach((v, k) => (acc[k]! += (i % 2 ? 4 : 2) * v));
  return acc.map((v) => (v * h) / 3);
}

/**
 * Independent check of eq. (10) without any 2F1: integrate over the prior of
 * (λ, p). Given (λ, p) and alive at T, E[purchases in t] = (1 - e^{-λpt}) / p;
 * the likelihood is (1-p)^x λ^x e^{-λT} (alive) + p(1-p)^{x-1} λ^x e^{-λ tx} (dropped).
 * Returns [E[future], P(alive)]. p = u^{1/a} absorbs the Beta's p^{a-1}
 * singularity; λ is integrated around its posterior bulk in log-space so heavy
 * buyers (λ^400) don't overflow.
 */
function bruteForce(pr: BgNbdParams, t: number, x: number, tx: number, T: number): [number, number] {
  const { r, alpha, a, b } = pr;
  const uMax = Math.min(1, 80 / (b + x)) ** a;
  const atLambda = (lambda: number): number[] =>
    simpson((u) => {
      const p = u ** (1 / a);
      const w = (1 - p) ** (b - 1);
      const alive = (1 - p) ** x * Math.exp(-lambda * (T - tx));
      const dropped = x > 0 ? p * (1 - p) ** (x - 1) : 0;
      const future = p === 0 ? lambda * t : -Math.expm1(-lambda * p * t) / p;
      return [w * alive * future, w * alive, w * (alive + dropped)];
    }, 0, uMax);
  let m: number[];
  if (x === 0) {
    // λ = s^{1/r} absorbs λ^{r-1}; the exp(-λT) lives in `alive` (tx = 0).
    m = simpson((s) => atLambda(s ** (1 / r)).map((v) => v * Math.exp(-alpha * s ** (1 / r))), 0, (60 / (alpha + T)) ** r);
  } else {
    const k = r - 1 + x;
    const mode = k / (alpha + tx);
    const sd = Math.sqrt(r + x) / (alpha + tx);
    const logW = (l: number): number => k * Math.log(l / mode) - (alpha + tx) * (l - mode);
    m = simpson((l) => atLambda(l).map((v) => (l === 0 ? 0 : v * Math.exp(logW(l)))), Math.max(0, mode - 15 * sd), mode + 15 * sd);
  }
  return [m[0]! / m[2]!, m[1]! / m[2]!];
}

describe('numerics', () => {
  test('lgamma matches closed forms', () => {
    expect(lgamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(lgamma(10)).toBeCloseTo(Math.log(362880), 11);
    expect(lgamma(0.243)).toBeCloseTo(lgamma(1.243) - Math.log(0.243), 12); // Γ(x+1) = xΓ(x)
  });
  test('hyp2f1 series matches closed forms', () => {
    for (const z of [0.1, 0.5, 0.9, 0.99]) expect(hyp2f1(1, 1, 2, z)).toBeCloseTo(-Math.log(1 - z) / z, 10);
    expect(hyp2f1(2.3, 1.7, 1.7, 0.6)).toBeCloseTo(0.4 ** -2.3, 10); // 2F1(a,b;b;z) = (1-z)^-a
  });
});

describe('BG/NBD on CDNOW (Fader, Hardie & Lee 2005)', () => {
  let fit: BgNbdFit;
  let fitMs = 0;
  beforeAll(() => {
    const t0 = performance.now();
    fit = fitBgNbd(data);
    fitMs = performance.now() - t0;
  });

  test('fixture follows the lifetimes summary conventions', () => {
    expect(fixture.customers).toBe(2357);
    expect(data.weights.reduce((s, w) => s + w, 0)).toBe(2357);
    // Customer 00004: 1997-01-01, -01-18, -08-02 → x = 2, tx = 213/7, T = 272/7, m = (29.73+14.96)/2.
    expect(fixture.rows).toContainEqual([2, 30.428571429, 38.857142857, 22.345, 1]);
  });

  test('reproduces the published estimates within 1%', () => {
    const published = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    for (const k of ['r', 'alpha', 'a', 'b'] as const) expect(relErr(fit[k], published[k])).toBeLessThan(0.01);
    expect(Math.abs(fit.logLikelihood - -9582.4)).toBeLessThan(0.5);
    expect(fit.converged).toBe(true);
    expect(fitMs).toBeLessThan(5000);
  });

  test('weighted likelihood equals the expanded one', () => {
    const expanded = { x: [] as number[], tx: [] as number[], T: [] as number[] };
    fixture.rows.forEach(([x, tx, T, , n]) => {
      for (let i = 0; i < n; i++) (expanded.x.push(x), expanded.tx.push(tx), expanded.T.push(T));
    });
    expect(bgNbdLogLikelihood(fit, expanded)).toBeCloseTo(fit.logLikelihood, 6);
    expect(compressBgNbd(expanded).x.length).toBeLessThanOrEqual(fixture.rows.length);
  });

  test('conditional expectation: lifetimes example and brute-force integral agree', () => {
    const e = expectedPurchases(fit, 39, 2, 30.43, 38.86);
    expect(relErr(e, 1.226)).toBeLessThan(0.01);
    const [bfE, bfAlive] = bruteForce(fit, 39, 2, 30.43, 38.86);
    expect(relErr(e, bfE)).toBeLessThan(1e-4);
    expect(relErr(probabilityAlive(fit, 2, 30.43, 38.86), bfAlive)).toBeLessThan(1e-4);
    // x = 0 exercises c = a + b - 1 and the no-dropout branch.
    expect(relErr(expectedPurchases(fit, 20, 0, 0, 30), bruteForce(fit, 20, 0, 0, 30)[0])).toBeLessThan(1e-4);
  });

  test('short horizons: E[X(t)]/t → P(alive)·(r+x)/(alpha+T)', () => {
    const t = 1e-4;
    const slope = probabilityAlive(fit, 5, 20, 35) * ((fit.r + 5) / (fit.alpha + 35));
    expect(relErr(expectedPurchases(fit, t, 5, 20, 35) / t, slope)).toBeLessThan(1e-3);
    expect(expectedPurchases(fit, 0, 5, 20, 35)).toBe(0);
  });

  test('heavy buyers do not overflow the 2F1 series', () => {
    // 2F1 terms reach ~e^315 here before (1-z)^(r+x) scales them back.
    for (const [x, tx] of [[400, 39], [400, 38], [60, 30]] as const) {
      const e = expectedPurchases(fit, 52, x, tx, 39);
      expect(Number.isFinite(e)).toBe(true);
      expect(relErr(e, bruteForce(fit, 52, x, tx, 39)[0])).toBeLessThan(1e-3);
    }
    // Bought ~10×/week but silent for the last week: probably gone.
    expect(probabilityAlive(fit, 400, 38, 39)).toBeLessThan(0.1);
  });

  test('new-customer expectation is monotone in t', () => {
    const e = [1, 10, 39, 78].map((t) => expectedPurchasesNewCustomer(fit, t));
    for (let i = 1; i < e.length; i++) expect(e[i]!).toBeGreaterThan(e[i - 1]!);
  });

  test('P(alive) is 1 for x = 0 and decreases with T for x > 0', () => {
    expect(probabilityAlive(fit, 0, 0, 38)).toBe(1);
    let prev = 1;
    for (let T = 31; T <= 80; T += 1) {
      const p = probabilityAlive(fit, 3, 30, T);
      expect(p).toBeLessThan(prev);
      prev = p;
    }
  });
});

describe('Gamma-Gamma on the 946 CDNOW repeat buyers (Fader & Hardie 2013)', () => {
  let gg: GammaGammaFit;
  beforeAll(() => {
    gg = fitGammaGamma({ x: data.x, m: col(3), weights: data.weights });
  });

  test('reproduces p = 6.25, q = 3.74, v = 15.44 within 1%', () => {
    expect(gg.n).toBe(946);
    expect(relErr(gg.p, 6.25)).toBeLessThan(0.01);
    expect(relErr(gg.q, 3.74)).toBeLessThan(0.01);
    expect(relErr(gg.v, 15.44)).toBeLessThan(0.01);
    expect(gg.converged).toBe(true);
  });

  test('expected average spend', () => {
    // Published params, customer 00004: 6.25·(15.44 + 2·22.345) / (6.25·2 + 3.74 - 1) = 375.8125 / 15.24 ≈ 24.659
    expect(expectedAverageSpend({ p: 6.25, q: 3.74, v: 15.44 }, 2, 22.345)).toBeCloseTo(375.8125 / 15.24, 10);
    // x = 0 → population mean p·v/(q-1) = 96.5 / 2.74
    expect(expectedAverageSpend({ p: 6.25, q: 3.74, v: 15.44 }, 0, 0)).toBeCloseTo(96.5 / 2.74, 10);
  });

  test('CLV = expected purchases × expected spend; discounting lowers it', () => {
    const bg = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    const c = { x: 2, tx: 30.43, T: 38.86, m: 22.345 };
    const plain = customerLifetimeValue(bg, gg, c, 52);
    expect(plain).toBeCloseTo(expectedPurchases(bg, 52, 2, 30.43, 38.86) * expectedAverageSpend(gg, 2, 22.345), 10);
    const month = 52 / 12;
    expect(customerLifetimeValue(bg, gg, c, 52, { discountRate: 1e-12, step: month })).toBeCloseTo(plain, 8);
    const discounted = customerLifetimeValue(bg, gg, c, 52, { discountRate: 0.01, step: month });
    expect(discounted).toBeLessThan(plain);
    expect(discounted).toBeGreaterThan(plain / 1.01 ** 12);
  });
});

describe('fast likelihoods', () => {
  // The fits evaluate lgamma/log terms once per distinct x, tx, T (BG/NBD) or x (Gamma-Gamma) and combine them in
  // the per-row formula's order: the optimiser must walk exactly the path it walks on the plain per-row sums.
  const clock = { x: [0, 1, 1, 2, 5, 0, 3, 1, 2, 7], tx: [0, 3, 3, 10, 20, 0, 15, 1, 9, 30], T: [5, 10, 10, 30, 30, 12, 30, 4, 30, 31] };

  test('BG/NBD fit equals Nelder–Mead on the plain likelihood, bit for bit', () => {
    for (const d of [data, clock]) {
      const c = compressBgNbd(d);
      let total = 0;
      let sumT = 0;
      c.weights.forEach((w, i) => ((total += w), (sumT += w * c.T[i]!)));
      const fromLog = (v: number[]): BgNbdParams => ({ r: Math.exp(v[0]!), alpha: Math.exp(v[1]!), a: Math.exp(v[2]!), b: Math.exp(v[3]!) });
      const ref = nelderMead((v) => -bgNbdLogLikelihood(fromLog(v), c) / total, [0, Math.log(sumT / total), 0, 0], { maxIterations: 1500, restarts: 1 });
      const got = fitBgNbd(d, { initial: { r: 1, alpha: sumT / total, a: 1, b: 1 }, maxIterations: 1500, restarts: 1 });
      expect([got.r, got.alpha, got.a, got.b]).toEqual(Object.values(fromLog(ref.x)));
    }
  });

  test('Gamma-Gamma fit equals Nelder–Mead on the plain likelihood, bit for bit', () => {
    const m = col(3);
    const rows = data.x.map((x, i) => ({ x, m: m[i]!, w: data.weights[i]! })).filter((r) => r.x > 0);
    const total = rows.reduce((s, r) => s + r.w, 0);
    const plain = (z: number[]) => {
      const [p, q, v] = z.map(Math.exp) as [number, number, number];
      let ll = 0;
      for (const { x, m: mm, w } of rows) {
        const px = p * x;
        ll += w * (lgamma(px + q) - lgamma(px) - lgamma(q) + q * Math.log(v) + (px - 1) * Math.log(mm) + px * Math.log(x) - (px + q) * Math.log(x * mm + v));
      }
      return -ll / total;
    };
    const meanM = rows.reduce((s, r) => s + r.w * r.m, 0) / total;
    const ref = nelderMead(plain, [Math.log(2), Math.log(3), Math.log(meanM)], { maxIterations: 1500 });
    const got = fitGammaGamma({ x: data.x, m, weights: data.weights }, { maxIterations: 1500 });
    expect([got.p, got.q, got.v]).toEqual(ref.x.map(Math.exp));
  });

  test('a restart that lands on the same point ends the restarts (later ones would replay it)', () => {
    let calls = 0;
    // Flat at double precision in the second coordinate: the simplex never meets xTol along it.
    const f = (v: number[]) => (calls++, (v[0]! - 1) ** 2 + 1e-300 * v[1]!);
    const res = nelderMead(f, [0, 0], { restarts: 5, maxIterations: 20_000 });
    expect(res.x[0]).toBeCloseTo(1, 6);
    expect(calls).toBeLessThan(5_000);
  });
});
