import { FEATURE_NAMES } from '../../src/features/features.definitions';
import { designAt, fitBaselinesAt, predictDesign, type TargetTransform } from '../../src/models/clv/clv-forest';
import { BGNBD_CLV_COLUMN, contributionsInMoney, moneyBaseline } from '../../src/models/clv/explain';
import { contributions, Mulberry32, trainForest } from '../../src/models/forest';
import type { History } from '../../src/models/clv/clv-baselines';

const DAY = 86_400_000;
const T = Date.UTC(2021, 0, 1);

function histories(n: number): History[] {
  const m = new Mulberry32(3);
  const u = () => m.nextU32() / 4294967296;
  return Array.from({ length: n }, (_, c) => {
    const events = [];
    const k = 1 + Math.floor(u() * 8);
    for (let i = 0; i < k; i++) events.push({ at: T - (1 + u() * 300) * DAY, amount: 5 + u() * 300, kind: 'purchase' as const });
    return { key: `c${c}`, events, attrs: {} };
  });
}

describe('explanations in money', () => {
  const hs = histories(300);
  const design = designAt(hs, T, 180, fitBaselinesAt(hs, T), undefined, []);
  const m = { data: design.X, nRows: design.keys.length, nCols: design.nCols, layout: 'row' as const };
  // Labels loosely tied to spend so that the trees split on something.
  const y = Float64Array.from({ length: design.keys.length }, (_, i) => design.X[i * design.nCols + FEATURE_NAMES.indexOf('monetary_total')]! * 0.7 + (i % 7) * 3);

  it.each([
    ['log1p', { forest: 1.3, bgnbd: 0 }],
    ['log1p', { forest: 0.8, bgnbd: 0.4 }],
    ['raw', { forest: 0.9, bgnbd: 0.2 }],
  ] as const)('%s target, calibration %o: contributions add up to prediction − baseline', (target, calibration) => {
    const yt = target === 'log1p' ? y.map((v) => Math.log1p(v)) : y;
    const forest = trainForest(m, yt, { nEstimators: 8, maxDepth: 5, minSamplesLeaf: 5, seed: 1 });
    const model = { forest, target: target as TargetTransform, calibration };
    const contrib = contributions(forest, m);
    const money = contributionsInMoney(contrib, design, model);
    const pred = predictDesign(model, design);
    const base = moneyBaseline(contrib.bias, model);
    for (let r = 0; r < design.keys.length; r++) {
      let s = 0;
      for (let j = 0; j < design.nCols; j++) s += money[r * design.nCols + j]!;
      expect(s).toBeCloseTo(pred[r]! - base, 6);
      // Scaling by a positive slope keeps each feature's direction.
      for (let j = 0; j < design.nCols; j++) {
        if (j === BGNBD_CLV_COLUMN && calibration.bgnbd) continue;
        expect(Math.sign(money[r * design.nCols + j]!)).toBe(Math.sign(contrib.values[r * design.nCols + j]!));
      }
    }
  });

  it('uses the derivative when the forest output equals the bias', () => {
    const contrib = { bias: Math.log(100), values: Float64Array.from([0.5, -0.5]) };
    const money = contributionsInMoney(contrib, { nCols: 2, baseline: { clv: Float64Array.of(0), expPurchases: Float64Array.of(0), pAlive: Float64Array.of(0) } }, { target: 'log1p', calibration: { forest: 2, bgnbd: 0 } });
    expect(money[0]).toBeCloseTo(0.5 * 2 * 100, 6);
    expect(money[1]).toBeCloseTo(-0.5 * 2 * 100, 6);
  });
});
