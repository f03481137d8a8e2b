import { computeFeatures, type CustomerEvent, DAY_MS, FEATURE_NAMES, gapStats, MISSING, netSpendBetween, regionCode, toRecord } from '../../src/features/features.definitions';

const T0 = Date.UTC(2024, 0, 1);
const day = (d: number) => T0 + d * DAY_MS;
const events: CustomerEvent[] = [
  { at: day(0), amount: 100, kind: 'purchase', productId: 'a', category: 'x', quantity: 2 },
  { at: day(10), amount: 50, kind: 'purchase', productId: 'b', category: 'x' },
  { at: day(10.5), amount: 30, kind: 'purchase', productId: 'a', category: 'y' },
  { at: day(30), amount: -20, kind: 'refund' },
  { at: day(40), amount: 200, kind: 'purchase', productId: 'c' },
];
const features = (ev: CustomerEvent[], asOf: number, attrs = {}) => toRecord(FEATURE_NAMES, computeFeatures(ev, attrs, asOf));

describe('feature definitions', () => {
  it('computes the documented values by hand', () => {
    const f = features(events, day(50), { birthYear: 1990, region: 'North', signupAt: day(-100) });
    expect(f.recency_days).toBeCloseTo(10);
    expect(f.frequency).toBe(2); // purchase days 0, 10, 40
    expect(f.orders).toBe(4);
    expect(f.tenure_days).toBeCloseTo(50);
    expect(f.active_span_days).toBeCloseTo(40);
    expect(f.monetary_total).toBe(380);
    expect(f.monetary_mean).toBe(95);
    expect(f.monetary_max).toBe(200);
    expect(f.monetary_last).toBe(200);
    expect(f.repeat_day_mean).toBe(140); // (80 + 200) / 2
    expect(f.net_spend).toBe(360);
    expect(f.spend_30d).toBe(200 - 20);
    expect(f.orders_30d).toBe(1);
    expect(f.spend_90d).toBe(360);
    expect(f.gap_mean_days).toBe(20);
    expect(f.gap_var_days).toBe(100);
    expect(f.gap_last_days).toBe(30);
    expect(f.overdue_ratio).toBeCloseTo(0.5);
    expect(f.refund_share).toBeCloseTo(20 / 380);
    expect(f.refund_count).toBe(1);
    expect(f.distinct_products).toBe(3);
    expect(f.distinct_categories).toBe(2);
    expect(f.quantity_mean).toBe(5 / 4);
    expect(f.spend_rate_per_day).toBeCloseTo(360 / 50);
    expect(f.age_years).toBe(34);
    expect(f.signup_age_days).toBeCloseTo(150);
    expect(f.region_code).toBe(regionCode(' north '));
  });

  it('is point-in-time: events at or after asOf change nothing', () => {
    const asOf = day(35);
    const before = features(events, asOf);
    const later: CustomerEvent[] = [
      ...events.map((e) => (e.at >= asOf ? { ...e, amount: e.amount * 1000 } : e)),
      { at: asOf, amount: 999, kind: 'purchase' },
      { at: day(36), amount: 5, kind: 'refund' },
    ];
    expect(features(later, asOf)).toEqual(before);
    expect(features(events.filter((e) => e.at < asOf), asOf)).toEqual(before);
    expect(before.monetary_total).toBe(180);
    expect(before.recency_days).toBeCloseTo(24.5);
  });

  it('marks undefined values instead of inventing them', () => {
    const f = features([], day(5));
    expect(f.recency_days).toBe(MISSING);
    expect(f.tenure_days).toBe(MISSING);
    expect(f.gap_mean_days).toBe(MISSING);
    expect(f.age_years).toBe(MISSING);
    expect(f.orders).toBe(0);
    // signup after asOf is not known yet
    expect(features([], day(5), { signupAt: day(6) }).signup_age_days).toBe(MISSING);
  });

  it('computes gaps and labels', () => {
    expect(gapStats([1])).toEqual({ gapMean: MISSING, gapVar: MISSING, gapLast: MISSING });
    expect(gapStats([0, 2, 8])).toEqual({ gapMean: 4, gapVar: 4, gapLast: 6 });
    expect(netSpendBetween(events, day(10), day(40))).toBe(30 - 20 + 200);
  });
});
