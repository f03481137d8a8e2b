import { fitCalibration, hashKey, isCalibrationKey, maeMultiplier } from '../../src/models/clv/clv-forest';
import { mae } from '../../src/models/metrics';

describe('MAE-optimal calibration', () => {
  it('the multiplier is the |base|-weighted median of actual / base (hand-computed)', () => {
    // Ratios 1, 0, 3 with equal weights: the median ratio 1; errors 0 + 10 + 20.
    expect(maeMultiplier([10, 0, 30], [10, 10, 10])).toBe(1);
    // Ratios 2 (weight 1) and 3 (weight 3): weight 3 ≥ half of 4, so c = 3 (error 1, where c = 2 gives 3).
    expect(maeMultiplier([2, 9], [1, 3])).toBe(3);
    // Half the weight exactly reached at the first ratio: the lower weighted median.
    expect(maeMultiplier([1, 4], [1, 1])).toBe(1);
    // Rows predicted 0 cost the same for every c and do not vote.
    expect(maeMultiplier([2, 9, 1000], [1, 3, 0])).toBe(3);
    // Nothing to scale: 1; a negative median ratio: 0, never an inverted ranking.
    expect(maeMultiplier([5, 6], [0, 0])).toBe(1);
    expect(maeMultiplier([-5, -6, 1], [1, 1, 1])).toBe(0);
  });

  it('no multiplier on a fine grid, nor any blend weight on the grid, has a lower MAE than the fitted one', () => {
    let seed = 9;
    const u = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const n = 400;
    const forest = Array.from({ length: n }, () => u() * 100);
    const bg = forest.map((f) => f * 0.5 + u() * 40);
    const actual = forest.map((f, i) => (u() < 0.3 ? 0 : 0.6 * f + 0.3 * bg[i]! + (u() - 0.5) * 30));
    const { blend, scale } = fitCalibration(actual, forest, bg);
    expect(scale.bgnbd).toBe(0);
    const err = (cf: number, cb: number) => mae(actual, forest.map((f, i) => cf * f + cb * bg[i]!));
    const fitted = err(scale.forest, 0);
    for (let c = 0; c <= 3; c += 0.001) expect(err(c, 0)).toBeGreaterThanOrEqual(fitted - 1e-9);
    expect(err(blend.forest, blend.bgnbd)).toBeLessThanOrEqual(fitted + 1e-9);
    for (let w = 0; w <= 1.0001; w += 0.1) for (let c = 0.2; c <= 2; c += 0.01) expect(err(c * (1 - w), c * w)).toBeGreaterThanOrEqual(err(blend.forest, blend.bgnbd) - 1e-9);
  });
});

describe('calibration split', () => {
  it('takes about a fifth of the customers production training keeps (its holdout is hashKey % 5 === 0)', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `c-${i}`);
    const training = keys.filter((k) => hashKey(k) % 5 !== 0);
    const share = training.filter(isCalibrationKey).length / training.length;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.22);
    // Independent of the holdout: as many calibration customers among the held-out ones.
    const heldOut = keys.filter((k) => hashKey(k) % 5 === 0);
    expect(heldOut.filter(isCalibrationKey).length / heldOut.length).toBeGreaterThan(0.18);
  });
});
