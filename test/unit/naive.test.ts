import {
  DEFAULT_MIN_TENURE_DAYS,
  naiveCustomerFromTransactions,
  naiveFromTransactions,
  naivePrediction,
  naivePredictions,
  naiveSpendRate,
} from '../../src/models/naive';

describe('naive spend-rate baseline', () => {
  test('rate × horizon', () => {
    // $300 over 100 days = $3/day; × 365 = $1095
    expect(naivePrediction({ totalSpend: 300, tenureDays: 100 }, 365)).toBeCloseTo(1095, 10);
  });

  test('tenure floor', () => {
    expect(DEFAULT_MIN_TENURE_DAYS).toBe(30);
    // 10-day-old customer: $100 / max(10, 30) = $3.33/day; × 30 days = $100
    expect(naivePrediction({ totalSpend: 100, tenureDays: 10 }, 30)).toBeCloseTo(100, 10);
    // floor disabled: $100 / 10 = $10/day
    expect(naiveSpendRate({ totalSpend: 100, tenureDays: 10 }, { minTenureDays: 0 })).toBe(10);
    expect(() => naiveSpendRate({ totalSpend: 100, tenureDays: 0 }, { minTenureDays: 0 })).toThrow(RangeError);
    expect(naiveSpendRate({ totalSpend: 0, tenureDays: 0 }, { minTenureDays: 0 })).toBe(0);
  });

  test('from transactions: cutoff inclusive, later purchases ignored', () => {
    const txns = [
      { at: new Date('2024-01-01T00:00:00Z'), amount: 50 },
      { at: Date.parse('2024-01-11T00:00:00Z'), amount: 70 },
      { at: new Date('2024-02-05T00:00:00Z'), amount: 1000 },
    ];
    const cutoff = new Date('2024-01-31T00:00:00Z');
    expect(naiveCustomerFromTransactions(txns, cutoff)).toEqual({ totalSpend: 120, tenureDays: 30 });
    // $120 / 30 days = $4/day; × 90 = $360
    expect(naiveFromTransactions(txns, cutoff, 90)).toBeCloseTo(360, 10);
    expect(naiveFromTransactions(txns, new Date('2023-12-31T00:00:00Z'), 90)).toBe(0);
  });

  test('batch helper', () => {
    const out = naivePredictions([{ totalSpend: 60, tenureDays: 60 }, { totalSpend: 0, tenureDays: 5 }], 10);
    expect(out).toBeInstanceOf(Float64Array);
    expect(Array.from(out)).toEqual([10, 0]);
  });
});
