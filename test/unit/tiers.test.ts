import { Prisma } from '../../src/generated/prisma/client';
import { assignTiers, REST_TIER, TIER_NAMES, TIERS, tierOfRank, tierOfRankSql } from '../../src/models/scoring/tiers';

describe('value tier cut-offs', () => {
  it('are exact percentiles for any population size', () => {
    for (const n of [1, 7, 99, 100, 101, 250, 1003, 12_345]) {
      const clv = Array.from({ length: n }, (_, i) => (i * 7919) % (n + 13));
      const ids = Array.from({ length: n }, (_, i) => n - i);
      const tiers = assignTiers(clv, ids);
      let prev = 0;
      for (const t of TIERS) {
        const cut = Math.floor(n * t.share);
        expect([n, t.name, tiers.filter((x) => x === t.name).length]).toEqual([n, t.name, cut - prev]);
        prev = cut;
      }
      expect([n, tiers.filter((x) => x === REST_TIER).length]).toEqual([n, n - prev]);
      // Everyone in a higher tier is worth at least as much as everyone below it.
      const rankOf = (t: string) => TIER_NAMES.indexOf(t);
      const order = clv.map((v, i) => [v, rankOf(tiers[i]!)] as const).sort((a, b) => a[1] - b[1]);
      for (let i = 1; i < order.length; i++) if (order[i]![1] > order[i - 1]![1]) expect(order[i]![0]).toBeLessThanOrEqual(order[i - 1]![0]);
    }
  });

  it('the rank rule is the one assignTiers uses', () => {
    const n = 200;
    expect(Array.from({ length: n }, (_, r) => tierOfRank(r, n))).toEqual(assignTiers(Array.from({ length: n }, (_, i) => n - i), Array.from({ length: n }, (_, i) => i)));
    expect([tierOfRank(0, 100), tierOfRank(1, 100), tierOfRank(4, 100), tierOfRank(5, 100), tierOfRank(49, 100), tierOfRank(50, 100)]).toEqual(['top_1', 'top_5', 'top_5', 'top_10', 'top_50', 'rest']);
    expect(tierOfRank(0, 99)).toBe('top_5'); // floor(0.99) = 0: nobody is top 1% of 99
  });

  it('the SQL expression carries every cut-off and name as bind values', () => {
    const sql = tierOfRankSql(Prisma.sql`rk`, Prisma.sql`n`);
    expect(sql.sql).toMatch(/^\(case (when rk < floor\(n::float8 \* \?::float8\) then \? ){5}else \? end\)$/);
    expect(sql.values).toEqual([...TIERS.flatMap((t): unknown[] => [t.share, t.name]), REST_TIER]);
  });
});
