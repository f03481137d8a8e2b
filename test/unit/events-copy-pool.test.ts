import { partOf } from '../../src/events/events-copy.pool';

describe('partOf (the events import splits batches by externalId)', () => {
  it('always sends an id to the same part, within range', () => {
    for (const parts of [1, 2, 3, 7]) {
      for (const id of ['a', 'ev-1', 'ünï', '']) {
        const p = partOf(id, parts);
        expect(p).toBe(partOf(id, parts));
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(parts);
      }
    }
  });

  it('spreads sequential ids evenly', () => {
    const counts = [0, 0];
    for (let i = 0; i < 10_000; i++) counts[partOf(`ev-${i}`, 2)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(4_800);
    // Anagrams are not tied together (plain FNV-1a mod 2 depends only on the characters' parities).
    const anagrams = ['c-12', 'c-21', 'c-123', 'c-321', 'c-231', 'c-132', 'c-1234', 'c-4321'].map((id) => partOf(id, 2));
    expect(new Set(anagrams).size).toBe(2);
  });
});
