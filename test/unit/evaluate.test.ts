import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DAY_MS } from '../../src/features/features.definitions';
import type { History } from '../../src/models/clv/clv-baselines';
import { planWindows } from '../../src/models/clv/clv-forest';
import { evaluateHistories } from '../../src/models/evaluate/evaluate';
import { readHistories } from '../../src/models/evaluate/readers';
import { Mulberry32 } from '../../src/models/forest';

const START = Date.UTC(2020, 0, 1);
const CUTOFF = Date.UTC(2020, 9, 1);

/** Customers with a personal purchase rate and basket size, over 15 months. */
function synthetic(n: number, seed = 7): History[] {
  const m = new Mulberry32(seed);
  const rng = { next: () => m.nextU32() / 4294967296 };
  const out: History[] = [];
  for (let c = 0; c < n; c++) {
    const rate = 0.005 + rng.next() * 0.08;
    const basket = 20 + rng.next() * 200;
    const churnAt = START + rng.next() * 500 * DAY_MS;
    const events = [];
    for (let t = START + rng.next() * 200 * DAY_MS; t < Math.min(churnAt, START + 456 * DAY_MS); t += (-Math.log(1 - rng.next()) / rate) * DAY_MS) {
      events.push({ at: t, amount: basket * (0.5 + rng.next()), kind: 'purchase' as const });
      if (rng.next() < 0.05) events.push({ at: t + DAY_MS, amount: 10, kind: 'refund' as const });
    }
    out.push({ key: `c${c}`, events, attrs: { region: c % 3 ? 'north' : 'south' } });
  }
  return out;
}

const opts = { cutoff: CUTOFF, horizonDays: 90, forest: { nEstimators: 12 } };

describe('evaluate', () => {
  const histories = synthetic(400);
  const base = evaluateHistories(histories, opts);

  it('scores every customer with a purchase before the cutoff with all three models', () => {
    const expected = histories.filter((h) => h.events.some((e) => e.kind === 'purchase' && e.at < CUTOFF)).length;
    expect(base.customers).toBe(expected);
    expect(Object.keys(base.metrics).sort()).toEqual(['bgnbd_gg', 'forest', 'naive']);
    for (const m of Object.values(base.metrics)) {
      expect(Number.isFinite(m.mae)).toBe(true);
      expect(m.calibration).toHaveLength(10);
    }
    // Windows end at or before the cutoff: the forest never saw a label after it.
    for (const w of base.trainingWindows) expect(Date.parse(w) + base.windowDays * DAY_MS).toBeLessThanOrEqual(CUTOFF);
  });

  it('no peeking: changing or deleting events after the cutoff changes no prediction, only the metrics', () => {
    const tampered = histories.map((h, i) => ({
      ...h,
      events: h.events
        .filter((e) => e.at < CUTOFF || i % 2 === 0)
        .map((e) => (e.at >= CUTOFF ? { ...e, amount: e.amount * 7 + 3 } : e))
        .concat(i % 5 === 0 ? [{ at: CUTOFF + 5 * DAY_MS, amount: 5000, kind: 'purchase' as const }] : []),
    }));
    const other = evaluateHistories(tampered, opts);
    const strip = (r: typeof base) => r.predictions.map(({ actual: _a, ...p }) => p);
    expect(strip(other)).toEqual(strip(base));
    expect(other.metrics.forest.mae).not.toBe(base.metrics.forest.mae);
    expect(other.predictions.map((p) => p.actual)).not.toEqual(base.predictions.map((p) => p.actual));
  });

  it('handles a history shorter than the horizon by training on shorter windows', () => {
    const first = Date.UTC(1997, 0, 1);
    const plan = planWindows(first, Date.UTC(1997, 9, 1), 273);
    expect(plan.h).toBe(136); // half of the 273 days of history
    expect(plan.scale).toBeCloseTo(273 / 136);
    expect(plan.asOfs[0]).toBe(Date.UTC(1997, 9, 1) - 136 * DAY_MS);
    expect(() => planWindows(first, first + 5 * DAY_MS, 30)).toThrow(/14 days/);
  });
});

describe('evaluate readers', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-eval-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('groups Online Retail lines per invoice, treats C invoices as refunds and drops rows without a customer', () => {
    const csv = [
      'Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country',
      '1001,A,"LAMP, RED",2,2010-01-05 10:00:00,3.5,12345.0,United Kingdom',
      '1001,B,CUP,1,2010-01-05 10:00:00,10,12345.0,United Kingdom',
      'C1002,A,"LAMP, RED",-1,2010-01-07 11:00:00,3.5,12345.0,United Kingdom',
      '1003,A,LAMP,1,2010-01-08 11:00:00,3.5,,United Kingdom',
    ].join('\n');
    const file = path.join(dir, 'or.csv.gz');
    fs.writeFileSync(file, gzipSync(csv));
    const [h, ...rest] = readHistories(file, 'online-retail');
    expect(rest).toHaveLength(0);
    expect(h!.key).toBe('12345');
    expect(h!.attrs.region).toBe('United Kingdom');
    expect(h!.events).toEqual([
      { at: Date.UTC(2010, 0, 5, 10), amount: 17, kind: 'purchase', quantity: 3, productIds: ['A', 'B'] },
      { at: Date.UTC(2010, 0, 7, 11), amount: 3.5, kind: 'refund', quantity: 1, productIds: ['A'] },
    ]);
  });

  it('reads CDNOW and generic files', () => {
    const cd = path.join(dir, 'cd.txt');
    fs.writeFileSync(cd, ' 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n 00018 0001 19970102  1   11.77\n');
    const hs = readHistories(cd, 'cdnow');
    expect(hs.map((h) => [h.key, h.events.length])).toEqual([['4', 2], ['18', 1]]);
    expect(hs[0]!.events[1]).toMatchObject({ at: Date.UTC(1997, 0, 18), amount: 29.73 });
    const gen = path.join(dir, 'g.csv');
    fs.writeFileSync(gen, 'customerId,occurredAt,amount,kind\nx,2024-01-01T00:00:00Z,10,purchase\nx,2024-01-02T00:00:00Z,-4,\n');
    expect(readHistories(gen, 'generic')[0]!.events.map((e) => e.kind)).toEqual(['purchase', 'refund']);
    fs.writeFileSync(gen, 'customerId,occurredAt,amount\nx,not-a-date,10\n');
    expect(() => readHistories(gen, 'generic')).toThrow(/customerId, occurredAt and amount/);
  });
});
