import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DAY_MS } from '../../src/features/features.definitions';
import type { History } from '../../src/models/clv/clv-baselines';
import { designAt, planWindows } from '../../src/models/clv/clv-forest';
import { evaluateHistories } from '../../src/models/evaluate/evaluate';
import { GINI_TIE, pick } from '../../src/models/evaluate/select-settings';
import { readHistories } from '../../src/models/evaluate/readers';
import { Mulberry32, predict } from '../../src/models/forest';
import { predictQuantile } from '../../src/models/forest/leaf-values';

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

// A reduced grid keeps the test short; every axis still has two values or more. Two inner periods (averaged).
const grid = { targets: ['log1p', 'raw'], leaves: ['mean', 'median', 'qrf'], minSamplesLeaf: [5, 20], windows: [3, 6], blend: [true, false], calibrateOn: ['training', 'validation', 'none'] } as const;
const opts = { cutoff: CUTOFF, horizonDays: 90, forest: { nEstimators: 8 }, grid, innerFolds: 2 };

describe('evaluate', () => {
  const histories = synthetic(300);
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
    // Setting selection is blind too: the same candidates, scores and winner.
    expect(other.selection).toEqual(base.selection);
    expect(other.model.calibration).toEqual(base.model.calibration);
    expect(other.metrics.forest.mae).not.toBe(base.metrics.forest.mae);
    expect(other.predictions.map((p) => p.actual)).not.toEqual(base.predictions.map((p) => p.actual));
  });

  it('chooses its settings by an inner validation that ends at the cutoff', () => {
    const sel = base.selection;
    expect(sel.fallback).toBeUndefined();
    // target × min leaf × windows × leaf × (2 fitted calibrations × blend or not + uncalibrated)
    expect(sel.scores).toHaveLength(2 * 2 * 2 * 3 * (2 * 2 + 1));
    const v = sel.validation!;
    expect(v.folds).toBe(2);
    // Candidates predict as of V = cutoff − v and are scored on (V, cutoff]; their windows end by V.
    expect(Date.parse(v.cutoff) + v.days * DAY_MS).toBe(CUTOFF);
    for (const w of v.trainingWindows) expect(Date.parse(w) + v.windowDays * DAY_MS).toBeLessThanOrEqual(Date.parse(v.cutoff));
    const chosen = sel.scores.find((s) => JSON.stringify(s.setting) === JSON.stringify(sel.chosen))!;
    expect(sel.chosen).toEqual(pick(sel.scores, sel.baselines));
    // The rule: among candidates beating both baselines on both metrics (all, if none does), the best Gini up to GINI_TIE.
    const b = Object.values(sel.baselines);
    const beats = (s: (typeof sel.scores)[number]) => b.every((x) => s.normalizedGini > x.normalizedGini && s.mae < x.mae);
    const pool = sel.scores.some(beats) ? sel.scores.filter(beats) : sel.scores;
    expect(pool).toContain(chosen);
    expect(chosen.normalizedGini).toBeGreaterThanOrEqual(Math.max(...pool.map((s) => s.normalizedGini)) - GINI_TIE);
    expect(base.model.target).toBe(sel.chosen.target);
    expect(base.model.leaf).toBe(sel.chosen.leaf);
    const own = sel.chosen.blend ? base.model.calibrations.blend : base.model.calibrations.scale;
    expect(base.model.calibration).toEqual(sel.chosen.calibrateOn === 'validation' ? chosen.calibration : sel.chosen.calibrateOn === 'none' ? { forest: 1, bgnbd: 0 } : own);
    expect(base.model.qrf !== undefined).toBe(sel.chosen.leaf === 'qrf');
    // Uncalibrated candidates come once, as multiplier-only.
    for (const s of sel.scores) if (s.setting.calibrateOn === 'none') expect(s.setting.blend).toBe(false);
    // Multiplier-only candidates never use the BG/NBD term.
    for (const s of sel.scores) if (!s.setting.blend && s.calibration) expect(s.calibration.bgnbd).toBe(0);
  });

  it('picks the best Gini and breaks near-ties by MAE', () => {
    const s = (minSamplesLeaf: number, normalizedGini: number, mae: number) => ({ setting: { target: 'raw' as const, leaf: 'mean' as const, minSamplesLeaf, windows: 3, blend: false, calibrateOn: 'training' as const }, normalizedGini, mae });
    expect(pick([s(5, 0.7, 10), s(10, 0.8, 50), s(20, 0.8 - GINI_TIE / 2, 40)])!.minSamplesLeaf).toBe(20);
    expect(pick([s(5, 0.7, 10), s(10, 0.8, 50), s(20, 0.78, 40)])!.minSamplesLeaf).toBe(10);
    expect(pick([s(5, NaN, 1), s(10, 0.1, 50)])!.minSamplesLeaf).toBe(10);
  });

  it('with the baselines, only candidates beating both of them on Gini and MAE compete, unless none does', () => {
    const s = (minSamplesLeaf: number, normalizedGini: number, mae: number) => ({ setting: { target: 'raw' as const, leaf: 'median' as const, minSamplesLeaf, windows: 3, blend: false, calibrateOn: 'training' as const }, normalizedGini, mae });
    const baselines = { bgnbd_gg: { normalizedGini: 0.6, mae: 100 }, naive: { normalizedGini: 0.7, mae: 150 } };
    // 5: best Gini but loses to BG/NBD on MAE; 10: beats both on both; 20: beats both on MAE, not naive on Gini.
    const scores = [s(5, 0.8, 120), s(10, 0.75, 90), s(20, 0.65, 50)];
    expect(pick(scores)!.minSamplesLeaf).toBe(5);
    expect(pick(scores, baselines)!.minSamplesLeaf).toBe(10);
    // A tie with a baseline is not a win.
    expect(pick([s(5, 0.8, 120), s(10, 0.7, 90)], baselines)!.minSamplesLeaf).toBe(5);
    // Nobody eligible: the plain rule over all candidates.
    expect(pick([s(5, 0.8, 120), s(20, 0.65, 50)], baselines)!.minSamplesLeaf).toBe(5);
    // A baseline without a finite score (too few customers) bars nobody.
    expect(pick(scores, { ...baselines, naive: { normalizedGini: NaN, mae: NaN } })!.minSamplesLeaf).toBe(10);
    // Among the eligible, near-ties on Gini are still settled by MAE.
    expect(pick([s(5, 0.75, 95), s(10, 0.75 - GINI_TIE / 2, 60), s(20, 0.9, 200)], baselines)!.minSamplesLeaf).toBe(10);
  });

  it("under rule 'mae' the Gini only has to beat the baselines and the lowest MAE wins", () => {
    const s = (minSamplesLeaf: number, normalizedGini: number, mae: number) => ({ setting: { target: 'raw' as const, leaf: 'qrf' as const, minSamplesLeaf, windows: 3, blend: false, calibrateOn: 'none' as const }, normalizedGini, mae });
    const baselines = { bgnbd_gg: { normalizedGini: 0.6, mae: 100 }, naive: { normalizedGini: 0.7, mae: 150 } };
    const scores = [s(5, 0.9, 95), s(10, 0.71, 80), s(20, 0.65, 50)];
    expect(pick(scores, baselines)!.minSamplesLeaf).toBe(5);
    expect(pick(scores, baselines, 'mae')!.minSamplesLeaf).toBe(10);
    // Nobody eligible: the lowest MAE of all.
    expect(pick([s(5, 0.9, 120), s(20, 0.65, 50)], baselines, 'mae')!.minSamplesLeaf).toBe(20);
  });

  it("a 'qrf' forest predicts the median of the labels pooled over its leaves; 'none' leaves that amount as it is", () => {
    const one = { targets: ['raw'], leaves: ['qrf'], minSamplesLeaf: [10], windows: [3], blend: [false], calibrateOn: ['none'] } as const;
    const r = evaluateHistories(histories, { ...opts, grid: one, innerFolds: 1 });
    expect(r.selection.validation!.folds).toBe(1);
    expect(r.model.calibration).toEqual({ forest: 1, bgnbd: 0 });
    const past = histories.map((h) => ({ ...h, events: h.events.filter((e) => e.at < CUTOFF) }));
    const d = designAt(past, CUTOFF, 90, r.model.baselines);
    const X = { data: d.X, nRows: d.keys.length, nCols: d.nCols, layout: 'row' as const };
    expect(r.predictions.map((p) => p.forest)).toEqual(Array.from(predictQuantile(r.model.qrf!, X)));
    // Not the mean forest's amounts: medians of zero-inflated spend sit well below the means.
    const mean = predict(r.model.forest, X);
    expect(r.predictions.filter((p, i) => p.forest < mean[i]! - 1).length).toBeGreaterThan(r.customers / 4);
  });

  it('passes extra feature groups to every fit, computed as of each window', () => {
    const seen = new Set<number>();
    const group = { name: 'probe', names: ['probe_x'], at: (asOf: number) => (seen.add(asOf), new Map(histories.map((h) => [h.key, { probe_x: h.events.filter((e) => e.at < asOf).length }]))) };
    const r = evaluateHistories(histories, { ...opts, grid: { targets: ['log1p'], leaves: ['median'], minSamplesLeaf: [10], windows: [3], blend: [true], calibrateOn: ['training'] }, featureGroups: [group] });
    expect(r.featureGroups).toEqual(['behaviour', 'probe']);
    expect(r.model.leaf).toBe('median');
    expect(r.model.featureNames.at(-1)).toBe('probe_x');
    expect(seen.has(CUTOFF)).toBe(true);
    expect(seen.has(Date.parse(r.selection.validation!.cutoff))).toBe(true);
    for (const a of seen) expect(a).toBeLessThanOrEqual(CUTOFF);
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
