import { deserializeForest, MEDIAN_TIE_BREAK, predict, serializeForest, trainForest, withLeafMedians } from '../../src/models/forest';
import type { Forest } from '../../src/models/forest';
import { leafLabelIndex, median, predictQuantile } from '../../src/models/forest/leaf-values';

describe('forest leaf medians', () => {
  // One stump without bagging: x < 0.5 → rows with labels 1, 2, 10; otherwise 5, 6, 7, 100.
  const X = { data: Float64Array.from([0, 0, 0, 1, 1, 1, 1]), nRows: 7, nCols: 1, layout: 'row' as const };
  const y = [1, 2, 10, 5, 6, 7, 100];
  const opts = { nEstimators: 1, maxDepth: 1, minSamplesLeaf: 1, maxFeatures: 1, bootstrap: false, float32Values: false };

  it('leaves predict the median of their rows (plus a millionth of their mean to order ties); inner nodes keep means', () => {
    const f = trainForest(X, y, opts);
    expect(f.feature[0]).toBe(0);
    const m = withLeafMedians(f, X, y);
    const at = (v: number) => predict(m, { data: Float64Array.from([v]), nRows: 1, nCols: 1, layout: 'row' })[0]!;
    expect(at(0)).toBeCloseTo(2 + MEDIAN_TIE_BREAK * (13 / 3), 12);
    expect(at(1)).toBeCloseTo((6 + 7) / 2 + MEDIAN_TIE_BREAK * (118 / 4), 12);
    expect(m.value[0]).toBe(f.value[0]);
    // The input forest is not modified and the artifact round-trips the new values.
    expect(predict(f, { data: Float64Array.from([0]), nRows: 1, nCols: 1, layout: 'row' })[0]).toBeCloseTo(13 / 3, 12);
    expect(Array.from(deserializeForest(serializeForest(m)).value)).toEqual(Array.from(m.value));
  });

  it('ties of the median are ordered by the leaf means', () => {
    // Both leaves have median 0; the right one has the larger mean (15 vs 1) and must rank higher.
    const y0 = [0, 0, 3, 0, 0, 0, 60];
    const m = withLeafMedians(trainForest(X, y0, opts), X, y0);
    const p = predict(m, { data: Float64Array.from([0, 1]), nRows: 2, nCols: 1, layout: 'row' });
    expect(p[0]).toBeGreaterThan(0);
    expect(p[1]).toBeGreaterThan(p[0]!);
    expect(p[1]).toBeLessThan(1e-3);
  });

  it('median helper', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  describe('quantile regression forest (pooled leaf labels)', () => {
    // Tree 0: the stump above (x < 0.5 → labels 1, 2, 10; else 5, 6, 7, 100); tree 1: a single leaf holding all 7 rows.
    const all = 131 / 7;
    const f: Forest = {
      nFeatures: 1,
      nTrees: 2,
      treeStart: Int32Array.from([0, 3, 4]),
      feature: Int32Array.from([0, -1, -1, -1]),
      threshold: Float64Array.from([0.5, 0, 0, 0]),
      left: Int32Array.from([1, -1, -1, -1]),
      right: Int32Array.from([2, -1, -1, -1]),
      value: Float64Array.from([all, 13 / 3, 118 / 4, all]),
      importance: new Float64Array(2),
      seeds: new Uint32Array(2),
    };
    const q = (x: number, quantile?: number) => predictQuantile(leafLabelIndex(f, X, y), { data: Float64Array.from([x]), nRows: 1, nCols: 1, layout: 'row' }, quantile)[0]!;

    it('is the weighted median of the labels pooled over the leaves the row reaches, each tree weighing 1', () => {
      // x = 0: rows 1, 2, 10 weigh 1/3 + 1/7 (tree 0 and tree 1), rows 5, 6, 7, 100 weigh 1/7; total 2. Sorted
      // cumulative weights 0.48 (1), 0.95 (2), 1.10 (5): the median is 5, where the mean of the two trees'
      // medians would be (2 + 6) / 2 = 4 and the mean forest (13/3 + 131/7) / 2 = 11.5.
      expect(q(0)).toBeCloseTo(5 + MEDIAN_TIE_BREAK * ((13 / 3 + all) / 2), 12);
      // x = 1: rows 5, 6, 7, 100 weigh 1/4 + 1/7; cumulative 0.14 (1), 0.29 (2), 0.68 (5), 1.08 (6).
      expect(q(1)).toBeCloseTo(6 + MEDIAN_TIE_BREAK * ((118 / 4 + all) / 2), 12);
      // Other quantiles of the same distribution: the lowest and highest labels with any weight.
      expect(q(0, 0)).toBeCloseTo(1, 3);
      expect(q(1, 1)).toBeCloseTo(100, 3);
    });

    it('with one tree and no bagging it equals the leaf median of the lower middle row', () => {
      const one = trainForest(X, y, opts);
      const ix = leafLabelIndex(one, X, y);
      const p = predictQuantile(ix, { data: Float64Array.from([0, 1]), nRows: 2, nCols: 1, layout: 'row' });
      expect(p[0]).toBeCloseTo(2, 3);
      expect(p[1]).toBeCloseTo(6, 3);
    });

    it('orders customers whose medians tie by the mean forest, and rejects mismatched inputs', () => {
      const y0 = [0, 0, 3, 0, 0, 0, 60];
      const ix = leafLabelIndex(trainForest(X, y0, opts), X, y0);
      const p = predictQuantile(ix, { data: Float64Array.from([0, 1]), nRows: 2, nCols: 1, layout: 'row' });
      expect(p[0]).toBeGreaterThan(0);
      expect(p[1]).toBeGreaterThan(p[0]!);
      expect(p[1]).toBeLessThan(1e-3);
      expect(() => leafLabelIndex(f, X, [1, 2])).toThrow(RangeError);
      expect(() => predictQuantile(ix, { data: Float64Array.from([0, 1]), nRows: 1, nCols: 2, layout: 'row' })).toThrow(RangeError);
    });
  });
});
