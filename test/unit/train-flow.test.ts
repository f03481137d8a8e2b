import { DAY_MS } from '../../src/features/features.definitions';
import type { History } from '../../src/models/clv/clv-baselines';
import { designAt, fitBaselinesAt, predictDesign, trainClvForest } from '../../src/models/clv/clv-forest';
import { Mulberry32, type Forest, serializeForest } from '../../src/models/forest';
import {
  type Role,
  type RoleSet,
  capturingTrainer,
  chunkPlan,
  decodeFits,
  encodeFits,
  fitCache,
  growChunk,
  mergeShares,
  rowsId,
  summarize,
  supplyingTrainer,
} from '../../src/models/training/train-flow';
import { TrainingHandedOff } from '../../src/models/training/train.service';

const START = Date.UTC(2020, 0, 1);
const CUTOFF = Date.UTC(2021, 3, 1);

function synthetic(n: number, seed = 11): History[] {
  const m = new Mulberry32(seed);
  const next = () => m.nextU32() / 4294967296;
  const out: History[] = [];
  for (let c = 0; c < n; c++) {
    const rate = 0.005 + next() * 0.08;
    const basket = 20 + next() * 200;
    const churnAt = START + next() * 500 * DAY_MS;
    const events = [];
    for (let t = START + next() * 200 * DAY_MS; t < Math.min(churnAt, CUTOFF); t += (-Math.log(1 - next()) / rate) * DAY_MS) {
      events.push({ at: t, amount: basket * (0.5 + next()), kind: 'purchase' as const });
    }
    out.push({ key: `c${c}`, events, attrs: { region: c % 3 ? 'north' : 'south' } });
  }
  return out;
}

describe('fan-out training (pure)', () => {
  const histories = synthetic(160);
  const opts = { horizonDays: 90, forest: { nEstimators: 13, maxDepth: 6, seed: 5 } };

  const capture = (h: readonly History[], fit?: ReturnType<typeof fitCache>['fit']): RoleSet[] => {
    const cap = capturingTrainer();
    expect(() => trainClvForest(h, CUTOFF, { ...opts, trainForest: cap.trainer, fitBaselines: fit })).toThrow(TrainingHandedOff);
    return cap.sets;
  };

  it('chunk plans cover every tree of every role once, the main forest first', () => {
    for (const [main, cal, of] of [[13, 13, 3], [2, 2, 5], [100, 50, 2], [100, 50, 7], [1, 1, 1]] as const) {
      const plan = chunkPlan([{ role: 'calibration', nTrees: cal }, { role: 'main', nTrees: main }], of);
      expect(plan[0]!.role).toBe('main');
      for (const [role, n] of [['main', main], ['calibration', cal]] as const) {
        const chunks = plan.filter((c) => c.role === role);
        expect(chunks.reduce((a, c) => a + c.count, 0)).toBe(n);
        expect(chunks.every((c) => c.count >= 1)).toBe(true);
        chunks.slice(1).forEach((c, i) => expect(c.first).toBe(chunks[i]!.first + chunks[i]!.count));
      }
    }
    expect(chunkPlan([{ role: 'main', nTrees: 100 }], 2)).toHaveLength(12);
  });

  it('chunks grown by separate participants, each from rows it built itself, merge into the single-process forest', () => {
    const single = trainClvForest(histories, CUTOFF, opts);
    // Two participants build the rows on their own, sharing the baseline fits through their encoded form.
    const fits = fitCache(new Map());
    const mine = capture(histories, fits.fit);
    const theirFits = fitCache(decodeFits(encodeFits(fits.cache)));
    const theirs = capture(histories.map((h) => ({ ...h, events: [...h.events] })), theirFits.fit);
    expect(rowsId(theirs.map(summarize))).toBe(rowsId(mine.map(summarize)));
    // Claimed alternately: every other chunk grown by the other participant.
    const plan = chunkPlan(mine.map(summarize), 3);
    const grown = plan.map((c, i) => ({ c, f: growChunk((i % 2 ? theirs : mine).find((s) => s.role === c.role)!, c) }));
    const forests = new Map<Role, Forest>(
      (['main', 'calibration'] as const).map((role) => [role, mergeShares(grown.filter((g) => g.c.role === role).sort((a, b) => a.c.index - b.c.index).map((g) => g.f))]),
    );
    // replay: the single-process code again, with the merged forests supplied.
    const merged = trainClvForest(histories, CUTOFF, { ...opts, trainForest: supplyingTrainer(mine.map(summarize), forests), fitBaselines: fits.fit });

    expect(Buffer.from(serializeForest(merged.forest)).equals(Buffer.from(serializeForest(single.forest)))).toBe(true);
    expect(merged.calibration).toEqual(single.calibration);
    expect(merged.baselines).toEqual(single.baselines);
    const asOf = CUTOFF - 30 * DAY_MS;
    const design = designAt(histories, asOf, 90, fitBaselinesAt(histories, asOf));
    expect(Array.from(predictDesign(merged, design))).toEqual(Array.from(predictDesign(single, design)));
  });

  it('rows built from different data get another rows id (their chunks never mix)', () => {
    const changed = histories.map((h, i) => (i === 0 ? { ...h, events: [...h.events, { at: CUTOFF - 400 * DAY_MS, amount: 999, kind: 'purchase' as const }] } : h));
    expect(rowsId(capture(changed).map(summarize))).not.toBe(rowsId(capture(histories).map(summarize)));
  });

  it('the merge refuses rows that differ from what the children trained on', () => {
    const sets = capture(histories);
    const forests = new Map<Role, Forest>(sets.map((s) => [s.role, growChunk(s, { role: s.role, index: 0, first: 0, count: 13 })]));
    const changed = histories.map((h, i) => (i === 0 ? { ...h, events: [...h.events, { at: CUTOFF - 400 * DAY_MS, amount: 999, kind: 'purchase' as const }] } : h));
    expect(() => trainClvForest(changed, CUTOFF, { ...opts, trainForest: supplyingTrainer(sets.map(summarize), forests) })).toThrow(/changed between the prepare step and the merge/);
  });

  it('round-trips baseline fits, non-finite numbers included', () => {
    const fits = new Map([[1, { bgnbd: { r: 0.1 + 0.2, alpha: Infinity, a: NaN, b: -0 }, gg: null, meanSpend: 1 / 3 }]]);
    expect(decodeFits(encodeFits(fits))).toEqual(fits);
  });

  it('a replay given the capture\'s window cache builds no window twice and trains the same model', () => {
    const windowCache = new Map();
    const fitted: number[] = [];
    const fit = (h: readonly History[], asOf: number) => (fitted.push(asOf), fitBaselinesAt(h, asOf));
    const cap = capturingTrainer();
    expect(() => trainClvForest(histories, CUTOFF, { ...opts, trainForest: cap.trainer, fitBaselines: fit, windowCache })).toThrow(TrainingHandedOff);
    const windows = windowCache.size;
    expect(windows).toBeGreaterThan(0);
    fitted.length = 0;
    const replayed = trainClvForest(histories, CUTOFF, { ...opts, fitBaselines: fit, windowCache });
    // Only the cutoff's fit (the served baselines): every window's design came from the cache.
    expect(fitted).toEqual([CUTOFF]);
    const plain = trainClvForest(histories, CUTOFF, opts);
    expect(serializeForest(replayed.forest)).toEqual(serializeForest(plain.forest));
    expect(replayed.calibration).toEqual(plain.calibration);
  });
});
