import fc from 'fast-check';
import { computeFeatures, type CustomerEvent, DAY_MS, FEATURE_NAMES, gapStats, netSpendBetween, toRecord } from '../../src/features/features.definitions';

/**
 * Invariants of the feature math on arbitrary histories. Amounts are whole units so sums are exact in any
 * order and the comparisons can be strict.
 */

const RUNS = { numRuns: 300 };
const ASOF = Date.UTC(2024, 6, 1);
const event = (from: number, to: number): fc.Arbitrary<CustomerEvent> =>
  fc.record({
    at: fc.integer({ min: from, max: to }),
    amount: fc.integer({ min: -500, max: 5000 }),
    kind: fc.constantFrom('purchase', 'purchase', 'purchase', 'refund'),
    productId: fc.option(fc.constantFrom('p1', 'p2', 'p3', 'p4'), { nil: null }),
    category: fc.option(fc.constantFrom('a', 'b'), { nil: null }),
    quantity: fc.integer({ min: 1, max: 5 }),
  }) as fc.Arbitrary<CustomerEvent>;
const past = fc.array(event(ASOF - 800 * DAY_MS, ASOF - 1), { maxLength: 40 });
const later = fc.array(event(ASOF, ASOF + 400 * DAY_MS), { minLength: 1, maxLength: 10 });
const attrs = fc.record({
  birthYear: fc.option(fc.integer({ min: 1930, max: 2010 }), { nil: null }),
  region: fc.option(fc.constantFrom('north', 'South', ' east '), { nil: null }),
  signupAt: fc.option(fc.integer({ min: ASOF - 900 * DAY_MS, max: ASOF + 50 * DAY_MS }), { nil: null }),
});
const features = (ev: readonly CustomerEvent[], a: object, asOf = ASOF) => toRecord(FEATURE_NAMES, computeFeatures(ev, a, asOf));

describe('feature math (property-based)', () => {
  it('is point-in-time: events at or after asOf change nothing', () => {
    fc.assert(
      fc.property(past, later, attrs, (ev, extra, a) => {
        expect(features([...ev, ...extra], a)).toEqual(features(ev, a));
      }),
      RUNS,
    );
  });

  it('does not depend on the order of the events', () => {
    const withPermutation = past.chain((ev) => fc.tuple(fc.constant(ev), fc.shuffledSubarray(ev, { minLength: ev.length, maxLength: ev.length })));
    fc.assert(
      fc.property(withPermutation, attrs, ([ev, shuffled], a) => {
        expect(features(shuffled, a)).toEqual(features(ev, a));
      }),
      RUNS,
    );
  });

  it('keeps counts non-negative and windows nested: 30 ≤ 90 ≤ 180 ≤ 365 days ≤ all time', () => {
    fc.assert(
      fc.property(past, attrs, (ev, a) => {
        const f = features(ev, a);
        for (const n of ['orders', 'frequency', 'refund_count', 'distinct_products', 'distinct_categories', 'orders_30d', 'quantity_mean', 'monetary_total', 'monetary_max']) {
          expect([n, f[n]! >= 0]).toEqual([n, true]);
        }
        expect(f.orders_30d! <= f.orders_90d! && f.orders_90d! <= f.orders_180d! && f.orders_180d! <= f.orders_365d! && f.orders_365d! <= f.orders!).toBe(true);
        expect(f.frequency).toBeLessThanOrEqual(Math.max(0, f.orders! - 1));
        expect(f.gap_var_days === -1 || f.gap_var_days! >= 0).toBe(true);
        // Without refunds, spend windows nest the same way and end at the gross total.
        const purchases = ev.filter((e) => e.kind === 'purchase');
        const p = features(purchases, a);
        expect(p.spend_30d! <= p.spend_90d! && p.spend_90d! <= p.spend_180d! && p.spend_180d! <= p.spend_365d! && p.spend_365d! <= p.monetary_total!).toBe(true);
        expect(p.net_spend).toBe(p.monetary_total);
      }),
      RUNS,
    );
  });

  it('labels add up: net spend over (a, c] is the sum over (a, b] and (b, c]', () => {
    fc.assert(
      fc.property(past, fc.integer({ min: -800, max: 0 }), fc.integer({ min: -800, max: 0 }), fc.integer({ min: -800, max: 0 }), (ev, x, y, z) => {
        const [a, b, c] = [x, y, z].sort((m, n) => m - n).map((d) => ASOF + d * DAY_MS) as [number, number, number];
        expect(netSpendBetween(ev, a, b) + netSpendBetween(ev, b, c)).toBe(netSpendBetween(ev, a, c));
      }),
      RUNS,
    );
  });

  it('gap statistics: mean and variance of the gaps between sorted days, never negative', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 2000 }), { minLength: 2, maxLength: 50 }), (days) => {
        const sorted = [...days].sort((a, b) => a - b);
        const g = gapStats(sorted);
        const gaps = sorted.slice(1).map((d, i) => d - sorted[i]!);
        expect(g.gapMean).toBeCloseTo(gaps.reduce((s, x) => s + x, 0) / gaps.length, 9);
        expect(g.gapVar).toBeGreaterThanOrEqual(0);
        expect(g.gapLast).toBe(gaps[gaps.length - 1]);
      }),
      RUNS,
    );
  });
});
