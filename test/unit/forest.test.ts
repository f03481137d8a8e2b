import {
  type Forest,
  type Matrix,
  Mulberry32,
  contributions,
  deserializeForest,
  featureImportances,
  forestFromMlRandomForestJSON,
  forestToMlRandomForestJSON,
  forestTrees,
  mergeForests,
  predict,
  prepareDataset,
  resolveOptions,
  serializeForest,
  trainForest,
  trainTrees,
  trainTreesOn,
  treeFromMlCartJSON,
  treeSeeds,
  treeWorkspace,
} from '../../src/models/forest';

// The reference libraries are untyped (ml-cart) or mistyped (ml-random-forest's d.ts),
// so we describe only the surface these tests use.
interface CartTree {
  train(X: number[][], y: number[]): void;
  predict(X: number[][]): number[];
  toJSON(): unknown;
}
interface RfRegression {
  train(X: number[][], y: number[]): void;
  predict(X: number[][]): number[];
  toJSON(): unknown;
}
const { DecisionTreeRegression } = require('ml-cart') as { DecisionTreeRegression: new (o: object) => CartTree };
const { RandomForestRegression } = require('ml-random-forest') as {
  RandomForestRegression: { new (o: object): RfRegression; load(json: unknown): RfRegression };
};

interface Data {
  rows: number[][];
  y: number[];
  X: Matrix;
}

function makeData(n: number, p: number, seed: number, kind: 'continuous' | 'tied' | 'friedman'): Data {
  const rng = new Mulberry32(seed);
  const u = (): number => rng.nextU32() / 2 ** 32;
  const rows: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = Array.from({ length: p }, () => (kind === 'tied' ? Math.floor(u() * 6) : u()));
    rows.push(r);
    const [a = 0, b = 0, c = 0, d = 0, e = 0] = r;
    const v = Math.sin(a) + 0.2 * b * b - 0.3 * c + 0.3 * u();
    // 'tied' also rounds the target: equal errors between partitions are then common,
    // which exercises ml-cart's tie-breaking, not just its threshold conventions.
    y.push(
      kind === 'friedman'
        ? 10 * Math.sin(Math.PI * a * b) + 20 * (c - 0.5) ** 2 + 10 * d + 5 * e + (u() - 0.5)
        : kind === 'tied'
          ? Math.round(2 * v)
          : v,
    );
  }
  return { rows, y, X: { data: Float64Array.from(rows.flat()), nRows: n, nCols: p, layout: 'row' } };
}

function r2(y: ArrayLike<number>, pred: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < y.length; i++) mean += y[i]! / y.length;
  let res = 0;
  let tot = 0;
  for (let i = 0; i < y.length; i++) {
    res += (y[i]! - pred[i]!) ** 2;
    tot += (y[i]! - mean) ** 2;
  }
  return 1 - res / tot;
}

const bytesOf = (f: Forest): Buffer => Buffer.from(serializeForest(f));

describe('single tree vs ml-cart DecisionTreeRegression (reference algorithm)', () => {
  // ml-cart: a node with <= minNumSamples rows is a leaf, no minimum leaf size, all
  // features, no bagging. Equivalent here: minSamplesSplit = minNumSamples + 1.
  const cases = [
    { n: 60, p: 3, seed: 1, kind: 'continuous', minNumSamples: 3, maxDepth: Infinity },
    { n: 150, p: 5, seed: 2, kind: 'continuous', minNumSamples: 5, maxDepth: 6 },
    { n: 120, p: 4, seed: 3, kind: 'tied', minNumSamples: 3, maxDepth: Infinity },
    { n: 90, p: 3, seed: 4, kind: 'tied', minNumSamples: 2, maxDepth: 4 },
    { n: 150, p: 5, seed: 5, kind: 'tied', minNumSamples: 1, maxDepth: Infinity },
  ] as const;
  it.each(cases)('$kind n=$n p=$p minNumSamples=$minNumSamples maxDepth=$maxDepth', (c) => {
    const train = makeData(c.n, c.p, c.seed, c.kind);
    const fresh = makeData(200, c.p, c.seed + 100, c.kind);
    const cart = new DecisionTreeRegression({ minNumSamples: c.minNumSamples, maxDepth: c.maxDepth });
    cart.train(train.rows, train.y);
    const forest = trainForest(train.X, train.y, {
      nEstimators: 1,
      maxFeatures: 1,
      bootstrap: false,
      minSamplesLeaf: 1,
      minSamplesSplit: c.minNumSamples + 1,
      maxDepth: c.maxDepth,
      float32Values: false,
      splitCandidates: 'ml-cart',
    });
    // Same tree: node order, split features, thresholds (midpoints) and leaf means, bit for bit.
    const ref = treeFromMlCartJSON(JSON.parse(JSON.stringify(cart.toJSON())));
    const mine = forestTrees(forest)[0]!;
    expect(mine.nNodes).toBeGreaterThan(9);
    expect(Array.from(mine.feature)).toEqual(Array.from(ref.feature));
    expect(Array.from(mine.threshold)).toEqual(Array.from(ref.threshold));
    expect(Array.from(mine.right)).toEqual(Array.from(ref.right));
    for (const d of [train, fresh]) {
      expect(Array.from(predict(forest, d.X))).toEqual(cart.predict(d.rows));
    }
  });

  it('ml-cart refuses a split that leaves zero error; only the ml-cart mode copies that', () => {
    // ml-cart's "gain" is the post-split SSE and it splits only if gain > gainThreshold (0),
    // so a perfectly separating split is refused and the node predicts the overall mean.
    const rows = Array.from({ length: 20 }, (_, i) => [i]);
    const y = rows.map(([v]) => (v! < 10 ? 1 : 5));
    const cart = new DecisionTreeRegression({ minNumSamples: 3 });
    cart.train(rows, y);
    expect(cart.predict(rows)).toEqual(rows.map(() => 3));
    const X: Matrix = { data: Float64Array.from(rows.flat()), nRows: 20, nCols: 1, layout: 'row' };
    const opts = { nEstimators: 1, maxFeatures: 1, bootstrap: false, minSamplesLeaf: 1 };
    expect(Array.from(predict(trainForest(X, y, opts), X))).toEqual(y);
    const compat = trainForest(X, y, { ...opts, minSamplesSplit: 4, splitCandidates: 'ml-cart' });
    expect(Array.from(predict(compat, X))).toEqual(cart.predict(rows));
  });
});

describe('determinism and parallel chunks', () => {
  const d = makeData(400, 6, 11, 'friedman');
  const opts = { nEstimators: 8, maxDepth: 8, minSamplesLeaf: 3, maxFeatures: 0.5, seed: 123 };

  it.each(['exact', 'hist'] as const)('%s: same seed gives an identical artifact, another seed a different one', (m) => {
    const a = bytesOf(trainForest(d.X, d.y, { ...opts, splitMethod: m }));
    const b = bytesOf(trainForest(d.X, d.y, { ...opts, splitMethod: m }));
    const c = bytesOf(trainForest(d.X, d.y, { ...opts, splitMethod: m, seed: 124 }));
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it('trees trained in chunks from per-tree seeds merge into the same forest', () => {
    const whole = trainForest(d.X, d.y, opts);
    const chunks = [treeSeeds(123, 3, 0), treeSeeds(123, 5, 3)].map((s) => trainTrees(d.X, d.y, opts, s));
    expect(bytesOf(mergeForests(chunks)).equals(bytesOf(whole))).toBe(true);
  });

  it.each(['exact', 'hist'] as const)('%s: chunks grown on one reused workspace (bootstrap and not) equal the whole forest', (m) => {
    for (const bootstrap of [true, false]) {
      const o = resolveOptions({ ...opts, splitMethod: m, bootstrap, sampleFraction: bootstrap ? 1 : 0.7 });
      const whole = trainForest(d.X, d.y, o);
      const ws = treeWorkspace(prepareDataset(d.X, d.y, o), o);
      const chunks = [[0, 3], [3, 1], [4, 4]].map(([first, count]) => trainTreesOn(ws.ds, o, treeSeeds(123, count!, first), undefined, ws));
      expect(bytesOf(mergeForests(chunks)).equals(bytesOf(whole))).toBe(true);
    }
  });

  it('refuses a workspace made for other split options', () => {
    const o = resolveOptions(opts);
    const ws = treeWorkspace(prepareDataset(d.X, d.y, o), o);
    expect(() => trainTreesOn(ws.ds, { ...o, minSamplesLeaf: 4 }, treeSeeds(123, 1), undefined, ws)).toThrow(/workspace was made for another dataset/);
  });

  it('column-major input gives the same forest as row-major', () => {
    const col = new Float64Array(d.X.data.length);
    d.rows.forEach((r, i) => r.forEach((v, j) => (col[j * d.rows.length + i] = v)));
    const cm = trainForest({ ...d.X, data: col, layout: 'col' }, d.y, opts);
    expect(bytesOf(cm).equals(bytesOf(trainForest(d.X, d.y, opts)))).toBe(true);
  });

  it('reports progress once per tree', () => {
    const seen: string[] = [];
    trainForest(d.X, d.y, { ...opts, nEstimators: 3 }, (done, total) => seen.push(`${done}/${total}`));
    expect(seen).toEqual(['1/3', '2/3', '3/3']);
  });
});

describe('artifact', () => {
  const d = makeData(500, 5, 21, 'friedman');
  const probe = makeData(300, 5, 22, 'friedman');

  it.each([true, false])('round trip predicts identically (float32Values=%s)', (f32) => {
    const f = trainForest(d.X, d.y, { nEstimators: 10, maxDepth: 10, float32Values: f32 });
    const bytes = serializeForest(f);
    const back = deserializeForest(bytes);
    expect(Array.from(predict(back, probe.X))).toEqual(Array.from(predict(f, probe.X)));
    expect(Array.from(featureImportances(back))).toEqual(Array.from(featureImportances(f)));
    // Compact: ~10 bytes per node with float32 values, ~14 with float64.
    expect(bytes.length / f.feature.length).toBeLessThan(f32 ? 11 : 15);
    // An unaligned copy (as fs may hand out) still reads.
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    expect(Array.from(predict(deserializeForest(unaligned), probe.X))).toEqual(Array.from(predict(f, probe.X)));
  });

  it('rejects truncated or foreign bytes', () => {
    const bytes = serializeForest(trainForest(d.X, d.y, { nEstimators: 2 }));
    expect(() => deserializeForest(bytes.subarray(0, bytes.length - 8))).toThrow(/forest artifact/);
    expect(() => deserializeForest(new Uint8Array(64))).toThrow(/bad magic/);
  });
});

describe('ml-random-forest JSON interop', () => {
  const d = makeData(300, 4, 31, 'friedman');
  const probe = makeData(200, 4, 32, 'friedman');

  it('RandomForestRegression.load of the exported JSON predicts exactly like our predictor', () => {
    const f = trainForest(d.X, d.y, { nEstimators: 12, maxDepth: 9, maxFeatures: 0.5 });
    const json = JSON.parse(JSON.stringify(forestToMlRandomForestJSON(f)));
    const rf = RandomForestRegression.load(json);
    expect(rf.predict(probe.rows)).toEqual(Array.from(predict(f, probe.X)));
    const back = forestFromMlRandomForestJSON(json, 4);
    expect(Array.from(predict(back, probe.X))).toEqual(Array.from(predict(f, probe.X)));
    expect(Array.from(contributions(back, probe.X).values)).toEqual(Array.from(contributions(f, probe.X).values));
  });

  it('imports a forest trained by ml-random-forest itself (per-tree column subsets)', () => {
    const rf = new RandomForestRegression({ nEstimators: 5, maxFeatures: 0.5, seed: 3, noOOB: true });
    rf.train(d.rows, d.y);
    const f = forestFromMlRandomForestJSON(JSON.parse(JSON.stringify(rf.toJSON())), 4);
    const got = predict(f, probe.X);
    rf.predict(probe.rows).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 12));
  });
});

describe('explanations and accuracy', () => {
  const train = makeData(2000, 10, 41, 'friedman');
  const test = makeData(1000, 10, 42, 'friedman');

  it.each(['exact', 'hist'] as const)('%s: contributions + bias reproduce every prediction', (m) => {
    const f = trainForest(train.X, train.y, { nEstimators: 20, maxDepth: 10, splitMethod: m });
    const pred = predict(f, test.X);
    const { bias, values } = contributions(f, test.X);
    for (let r = 0; r < test.X.nRows; r++) {
      let s = bias;
      for (let j = 0; j < 10; j++) s += values[r * 10 + j]!;
      expect(Math.abs(s - pred[r]!)).toBeLessThan(1e-9 * Math.max(1, Math.abs(pred[r]!)));
    }
  });

  it.each(['exact', 'hist'] as const)('%s: nonlinear holdout R^2 is high and noise features rank low', (m) => {
    const f = trainForest(train.X, train.y, { nEstimators: 50, maxDepth: 14, minSamplesLeaf: 2, splitMethod: m });
    expect(r2(test.y, predict(f, test.X))).toBeGreaterThan(0.85);
    const imp = featureImportances(f);
    expect(imp.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // Friedman #1 uses features 0..4 only; 5..9 are noise.
    const minSignal = Math.min(imp[0]!, imp[1]!, imp[3]!);
    for (let j = 5; j < 10; j++) expect(imp[j]).toBeLessThan(minSignal);
  });

  it('rejects invalid input early', () => {
    const bad = { ...train.X, data: train.X.data.slice() };
    bad.data[7] = NaN;
    expect(() => trainForest(bad, train.y, { nEstimators: 1 })).toThrow(/non-finite/);
    expect(() => trainForest(train.X, train.y, { maxFeatures: 2 })).toThrow(/fraction/);
  });
});
