import { deserializeForest, MEDIAN_TIE_BREAK, predict, serializeForest, trainForest, withLeafMedians } from '../../src/models/forest';
import { median } from '../../src/models/forest/leaf-values';

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
});
