import { assignTiers } from '../../src/models/scoring/tiers';

describe('value tiers', () => {
  it('cuts at exact percentiles of the ranking', () => {
    const n = 1000;
    // Shuffled values so the order of input does not decide anything.
    const clv = Array.from({ length: n }, (_, i) => ((i * 7919) % n) + 0.5);
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    const tiers = assignTiers(clv, ids);
    const count = (t: string) => tiers.filter((x) => x === t).length;
    expect([count('top_1'), count('top_5'), count('top_10'), count('top_25'), count('top_50'), count('rest')]).toEqual([10, 40, 50, 150, 250, 500]);
    const minOf = (t: string) => Math.min(...clv.filter((_, i) => tiers[i] === t));
    const maxOf = (t: string) => Math.max(...clv.filter((_, i) => tiers[i] === t));
    expect(minOf('top_1')).toBe(990.5);
    expect(maxOf('top_5')).toBe(989.5);
    expect(minOf('top_50')).toBe(500.5);
    expect(maxOf('rest')).toBe(499.5);
  });

  it('never over-fills a tier and breaks ties by id', () => {
    expect(assignTiers([5, 5, 5], [3, 1, 2])).toEqual(['rest', 'top_50', 'rest']);
    const t = assignTiers(new Array(150).fill(1), Array.from({ length: 150 }, (_, i) => i));
    expect(t.filter((x) => x === 'top_1')).toHaveLength(1);
    expect(t[0]).toBe('top_1');
  });
});
