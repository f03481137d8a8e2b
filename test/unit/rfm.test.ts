import { CHURN_BANDS, churnBand, noPurchaseProbability } from '../../src/segments/churn-bands';
import { RFM_GRID, RFM_SEGMENTS, fmScore, quintileScores, rfmSegment, rfmSegments } from '../../src/segments/rfm';

describe('RFM rules', () => {
  it('maps every (R, FM) cell of the documented grid', () => {
    // The table in src/segments/rfm.ts, written out again: rows R = 1..5, columns FM = 1..5.
    const documented: Record<string, string> = {
      champions: '54 55', loyal: '34 35 44 45', potential_loyalists: '42 43 52 53', new: '51', promising: '41',
      need_attention: '33', about_to_sleep: '31 32', at_risk: '13 14 23 24', cant_lose_them: '15 25',
      hibernating: '21 22', lost: '11 12',
    };
    const cells = Object.entries(documented).flatMap(([seg, list]) => list.split(' ').map((c) => [c, seg] as const));
    expect(cells).toHaveLength(25);
    for (const [cell, seg] of cells) expect([cell, RFM_GRID[Number(cell[0]) - 1]![Number(cell[1]) - 1]]).toEqual([cell, seg]);
    expect(new Set(RFM_GRID.flat())).toEqual(new Set(RFM_SEGMENTS));
  });

  it('FM is the mean of F and M rounded half up', () => {
    expect([fmScore(1, 1), fmScore(1, 2), fmScore(2, 3), fmScore(4, 5), fmScore(5, 1), fmScore(3, 4)]).toEqual([1, 2, 3, 5, 3, 4]);
    expect(rfmSegment(5, 4, 5)).toBe('champions');
    expect(rfmSegment(5, 4, 3)).toBe('champions'); // FM (4+3)/2 → 4
    expect(rfmSegment(5, 3, 3)).toBe('potential_loyalists');
    expect(rfmSegment(1, 5, 5)).toBe('cant_lose_them');
    expect(rfmSegment(1, 1, 2)).toBe('lost'); // FM 2
    expect(rfmSegment(2, 2, 1)).toBe('hibernating');
    expect(() => rfmSegment(0, 3, 3)).toThrow(RangeError);
    expect(() => rfmSegment(3, 6, 3)).toThrow(RangeError);
    expect(() => rfmSegment(3, 2.5, 3)).toThrow(RangeError);
  });

  it('quintile scores: 1 + floor(5·(min-rank − 1)/n), equal values share a score', () => {
    expect(quintileScores([10, 9, 8, 7, 6, 5, 4, 3, 2, 1])).toEqual([5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    expect(quintileScores([3, 1, 2])).toEqual([4, 1, 2]); // ranks 3,1,2 of 3 → 1+floor(10/3), 1, 1+floor(5/3)
    // Six one-order customers out of ten all get F = 1; the next value starts at rank 7 → 1 + floor(30/10) = 4.
    expect(quintileScores([1, 1, 1, 1, 1, 1, 2, 3, 3, 9])).toEqual([1, 1, 1, 1, 1, 1, 4, 4, 4, 5]);
    expect(quintileScores([7, 7, 7])).toEqual([1, 1, 1]);
    // Order of input never matters.
    const v = [5, 3, 9, 1, 3, 8, 2, 2, 7, 6, 4, 0];
    const byValue = new Map(v.map((x, i) => [x, quintileScores(v)[i]]));
    expect(quintileScores([...v].reverse())).toEqual([...v].reverse().map((x) => byValue.get(x)));
  });

  it('segments hand-made customers as documented', () => {
    // Five customers: the score of each dimension equals its rank (1 + floor(5·(r−1)/5) = r).
    const customers = [
      { id: 'fresh-one-off', recencyDays: 1, orders: 1, netSpend: 20 }, // R5 F1 M1 → new
      { id: 'regular', recencyDays: 12, orders: 6, netSpend: 900 }, //      R4 F5 M5 → loyal
      { id: 'mid', recencyDays: 40, orders: 3, netSpend: 150 }, //          R3 F3 M3 → need_attention
      { id: 'big-but-gone', recencyDays: 400, orders: 5, netSpend: 700 }, // R1 F4 M4 → at_risk
      { id: 'small-gone', recencyDays: 200, orders: 2, netSpend: 60 }, //   R2 F2 M2 → hibernating
    ];
    const out = rfmSegments(customers);
    expect(out.map((o, i) => [customers[i]!.id, o.r, o.f, o.m, o.segment])).toEqual([
      ['fresh-one-off', 5, 1, 1, 'new'],
      ['regular', 4, 5, 5, 'loyal'],
      ['mid', 3, 3, 3, 'need_attention'],
      ['big-but-gone', 1, 4, 4, 'at_risk'],
      ['small-gone', 2, 2, 2, 'hibernating'],
    ]);
    // Add a best-in-everything customer: ten customers now, two per quintile.
    const more = [
      ...customers,
      { id: 'champ', recencyDays: 0, orders: 30, netSpend: 5000 },
      { id: 'champ2', recencyDays: 0, orders: 9, netSpend: 2000 },
      { id: 'lost', recencyDays: 700, orders: 1, netSpend: 5 },
      { id: 'vip-gone', recencyDays: 500, orders: 12, netSpend: 3000 },
      { id: 'refunded', recencyDays: 30, orders: 1, netSpend: -40 },
    ];
    const seg = Object.fromEntries(rfmSegments(more).map((o, i) => [more[i]!.id, o.segment]));
    expect(seg.champ).toBe('champions');
    expect(seg.champ2).toBe('champions'); // same day as champ: both R5 (ties share the score)
    expect(seg.lost).toBe('lost');
    expect(seg['vip-gone']).toBe('cant_lose_them');
    expect(seg.refunded).toBe('about_to_sleep'); // R3 (rank 6 of 10 by recency), F1 (tied one-order), M1
  });
});

describe('churn-risk bands', () => {
  it('low < 0.25 ≤ medium < 0.5 ≤ high < 0.75 ≤ critical', () => {
    expect([0, 0.2499, 0.25, 0.4999, 0.5, 0.7499, 0.75, 1].map(churnBand)).toEqual(['low', 'low', 'medium', 'medium', 'high', 'high', 'critical', 'critical']);
    expect(CHURN_BANDS.map((b) => b.name)).toEqual(['low', 'medium', 'high', 'critical']);
    expect(() => churnBand(Number.NaN)).toThrow(RangeError);
  });
});

describe('BG/NBD probability of no purchase in the horizon', () => {
  it('is certain for an empty horizon, tends to 1 − P(alive) for a long one, falls with frequency', () => {
    const p = { r: 0.8, alpha: 10 };
    expect(noPurchaseProbability(p, 0.7, 3, 20, 0)).toBe(1);
    expect(noPurchaseProbability(p, 0.7, 3, 20, 1e9)).toBeCloseTo(0.3, 6);
    // x = 0, P(alive) = 1: the gamma-mixed Poisson zero term ((α+T)/(α+T+t))^r.
    expect(noPurchaseProbability(p, 1, 0, 30, 26)).toBeCloseTo((40 / 66) ** 0.8, 12);
    expect(noPurchaseProbability(p, 1, 0, 30, 52)).toBeLessThan(noPurchaseProbability(p, 1, 0, 30, 26));
    expect(noPurchaseProbability(p, 1, 10, 30, 26)).toBeLessThan(noPurchaseProbability(p, 1, 1, 30, 26));
    expect(noPurchaseProbability(p, 0, 10, 30, 26)).toBe(1);
  });
});
