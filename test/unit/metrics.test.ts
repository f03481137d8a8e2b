import {
  averageRanks,
  decileCalibration,
  gini,
  mae,
  normalizedGini,
  r2,
  rmse,
  spearman,
  topDecileShare,
} from '../../src/models/metrics';

describe('error metrics', () => {
  const actual = [1, 2, 3, 4];
  const predicted = [2, 2, 5, 3];

  test('MAE', () => {
    // |1-2| + |2-2| + |3-5| + |4-3| = 1 + 0 + 2 + 1 = 4; 4 / 4 = 1
    expect(mae(actual, predicted)).toBe(1);
  });

  test('RMSE', () => {
    // (1 + 0 + 4 + 1) / 4 = 1.5; sqrt(1.5)
    expect(rmse(actual, predicted)).toBeCloseTo(Math.sqrt(1.5), 12);
  });

  test('R²', () => {
    // mean 2.5; SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5; SS_res = 6; 1 - 6/5 = -0.2
    expect(r2(actual, predicted)).toBeCloseTo(-0.2, 12);
    expect(r2(actual, actual)).toBe(1);
    // Constant actual: scikit-learn convention.
    expect(r2([2, 2, 2], [2, 2, 2])).toBe(1);
    expect(r2([2, 2, 2], [1, 2, 3])).toBe(0);
  });

  test('accepts Float64Array and validates input', () => {
    expect(mae(Float64Array.from(actual), Float64Array.from(predicted))).toBe(1);
    expect(() => mae([1, 2], [1])).toThrow(RangeError);
    expect(() => rmse([], [])).toThrow(RangeError);
    expect(() => mae([1, NaN], [1, 2])).toThrow(RangeError);
  });
});

describe('Spearman', () => {
  test('average ranks for ties', () => {
    expect(Array.from(averageRanks([10, 20, 20, 40, 50]))).toEqual([1, 2.5, 2.5, 4, 5]);
    expect(Array.from(averageRanks([3, 1, 3, 3]))).toEqual([3, 1, 3, 3]); // the three 3s share ranks 2,3,4
  });

  test('with ties (matches scipy.stats.spearmanr = 0.87208...)', () => {
    // ranks a = [1, 2.5, 2.5, 4, 5], ranks p = [1, 3, 2, 5, 4], both mean 3
    // dev a = [-2, -.5, -.5, 1, 2], dev p = [-2, 0, -1, 2, 1]
    // Σ da·dp = 4 + 0 + .5 + 2 + 2 = 8.5; Σ da² = 9.5; Σ dp² = 10
    // rho = 8.5 / sqrt(95) = 0.872081599...
    expect(spearman([10, 20, 20, 40, 50], [1, 3, 2, 5, 4])).toBeCloseTo(8.5 / Math.sqrt(95), 12);
  });

  test('monotone transforms give ±1, constants give NaN', () => {
    expect(spearman([1, 5, 2, 8], [10, 500, 20, 8000])).toBeCloseTo(1, 12);
    expect(spearman([1, 5, 2, 8], [-1, -5, -2, -8])).toBeCloseTo(-1, 12);
    expect(spearman([1, 2, 3], [7, 7, 7])).toBeNaN();
  });
});

describe('normalized Gini', () => {
  const actual = [0, 1, 3, 2];
  const predicted = [0.1, 0.4, 0.3, 0.8];

  test('hand-computed value', () => {
    // by prediction desc: actual 2, 1, 3, 0 → cumsum 2, 3, 6, 6 → Σ = 17
    // gini = (17/6 - (4+1)/2) / 4 = (2.8333 - 2.5) / 4 = 1/12
    expect(gini(actual, predicted)).toBeCloseTo(1 / 12, 12);
    // perfect order: 3, 2, 1, 0 → cumsum 3, 5, 6, 6 → Σ = 20 → (20/6 - 2.5) / 4 = 5/24
    expect(gini(actual, actual)).toBeCloseTo(5 / 24, 12);
    // (1/12) / (5/24) = 0.4
    expect(normalizedGini(actual, predicted)).toBeCloseTo(0.4, 12);
  });

  test('perfect ranking is 1, reversed is negative', () => {
    expect(normalizedGini(actual, actual.map((a) => 2 * a + 1))).toBeCloseTo(1, 12);
    // reversed: 0, 1, 2, 3 → cumsum Σ = 10 → (10/6 - 2.5)/4 = -5/24 → normalized -1
    expect(normalizedGini(actual, actual.map((a) => -a))).toBeCloseTo(-1, 12);
  });

  test('ties in prediction keep input order (Kaggle reference behaviour)', () => {
    // order 0,1,2,3 → actual 0, 1, 3, 2 → cumsum 0, 1, 4, 6 → Σ = 11 → (11/6 - 2.5)/4 = -1/6 → / (5/24) = -0.8
    expect(normalizedGini(actual, [1, 1, 1, 1])).toBeCloseTo(-0.8, 12);
  });

  test('undefined when actual is all zero or constant', () => {
    expect(normalizedGini([0, 0, 0], [1, 2, 3])).toBeNaN();
    expect(normalizedGini([5, 5, 5], [1, 2, 3])).toBeNaN();
  });
});

describe('top-decile share', () => {
  test('top ceil(n/10) rows by prediction', () => {
    // n = 12 → k = ceil(1.2) = 2 → rows 0 (actual 10) and 1 (actual 0); total actual 20 → 10/20
    const actual = [10, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 5];
    const predicted = [9, 8, 7, 1, 1, 1, 1, 1, 1, 1, 1, 0];
    expect(topDecileShare(actual, predicted)).toBeCloseTo(0.5, 12);
  });

  test('ties at the cut-off share their value fractionally, independent of order', () => {
    // n = 10 → k = 1; rows 0 and 1 tie at 5 for the single slot → (4 + 2) · 1/2 = 3; total 14 → 3/14
    const actual = [4, 2, 1, 1, 1, 1, 1, 1, 1, 1];
    const predicted = [5, 5, 1, 1, 1, 1, 1, 1, 1, 1];
    expect(topDecileShare(actual, predicted)).toBeCloseTo(3 / 14, 12);
    expect(topDecileShare([...actual].reverse(), [...predicted].reverse())).toBeCloseTo(3 / 14, 12);
  });

  test('edge cases', () => {
    expect(topDecileShare([3], [1])).toBe(1); // k = ceil(0.1) = 1 = everything
    expect(topDecileShare([0, 0], [1, 2])).toBeNaN();
  });
});

describe('decile calibration', () => {
  test('25 rows → 10 groups of 2/3 rows summing to 25', () => {
    // predictions 24..0 in reverse input order, actual = 2 × prediction
    const predicted = Array.from({ length: 25 }, (_, i) => 24 - i);
    const actual = predicted.map((p) => 2 * p);
    const table = decileCalibration(actual, predicted);
    expect(table).toHaveLength(10);
    // group d covers sorted positions floor(d·2.5) .. floor((d+1)·2.5) - 1
    expect(table.map((r) => r.count)).toEqual([2, 3, 2, 3, 2, 3, 2, 3, 2, 3]);
    expect(table.reduce((s, r) => s + r.count, 0)).toBe(25);
    // decile 1: predictions 0, 1 → mean 0.5, actual mean 1; decile 2: 2, 3, 4 → 3 and 6
    expect(table[0]).toEqual({ decile: 1, count: 2, meanPredicted: 0.5, meanActual: 1 });
    expect(table[1]).toEqual({ decile: 2, count: 3, meanPredicted: 3, meanActual: 6 });
    // decile 10: predictions 22, 23, 24 → 23 and 46
    expect(table[9]).toEqual({ decile: 10, count: 3, meanPredicted: 23, meanActual: 46 });
  });

  test('fewer than 10 rows leaves empty groups', () => {
    const table = decileCalibration([1, 2, 3], [1, 2, 3]);
    expect(table.reduce((s, r) => s + r.count, 0)).toBe(3);
    expect(table.filter((r) => r.count === 0).every((r) => Number.isNaN(r.meanActual))).toBe(true);
  });
});
