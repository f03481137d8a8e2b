import { DAY_MS } from '../../src/features/features.definitions';
import type { History } from '../../src/models/clv/clv-baselines';
import { designAt, fitBaselinesAt, predictDesign, trainClvForest } from '../../src/models/clv/clv-forest';
import { Mulberry32, type Forest, serializeForest } from '../../src/models/forest';
import {
  type Role,
  capturingTrainer,
  decodeFits,
  decodeRoleSet,
  encodeFits,
  encodeRoleSet,
  fitCache,
  mergeShares,
  packRoleSets,
  subsequenceRows,
  shareRange,
  summarize,
  supplyingTrainer,
  trainShare,
  unpackRoleSets,
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

  it('share ranges cover every tree once', () => {
    for (const [n, k] of [[13, 3], [2, 5], [100, 7]] as const) {
      const ranges = Array.from({ length: k }, (_, i) => shareRange(n, i, k));
      expect(ranges.reduce((a, r) => a + r.count, 0)).toBe(n);
      ranges.slice(1).forEach((r, i) => expect(r.first).toBe(ranges[i]!.first + ranges[i]!.count));
    }
  });

  it('a forest merged from per-share trees equals the single-process one, bit for bit and in predictions', () => {
    const single = trainClvForest(histories, CUTOFF, opts);

    // prepare: capture the rows and the baseline fits; the main role stops training.
    const cap = capturingTrainer();
    const fits = fitCache(new Map());
    expect(() => trainClvForest(histories, CUTOFF, { ...opts, trainForest: cap.trainer, fitBaselines: fits.fit })).toThrow(TrainingHandedOff);
    expect(fits.cache.size).toBeGreaterThanOrEqual(1);
    expect(cap.sets.map((s) => s.role).sort()).toEqual(['calibration', 'main']);
    // children: each works from the encoded rows only, as a worker on another machine would.
    const blobs = cap.sets.map(encodeRoleSet);
    const of = 3;
    const forests = new Map<Role, Forest>();
    for (const blob of blobs) {
      const set = decodeRoleSet(blob);
      forests.set(set.role, mergeShares(Array.from({ length: of }, (_, i) => trainShare(set, i, of))));
    }
    // merge: the single-process code again, with the children's forests supplied.
    const stored = fitCache(decodeFits(encodeFits(fits.cache)));
    const merged = trainClvForest(histories, CUTOFF, { ...opts, trainForest: supplyingTrainer(cap.sets.map(summarize), forests), fitBaselines: stored.fit });

    expect(Buffer.from(serializeForest(merged.forest)).equals(Buffer.from(serializeForest(single.forest)))).toBe(true);
    expect(merged.calibration).toEqual(single.calibration);
    expect(merged.baselines).toEqual(single.baselines);
    const asOf = CUTOFF - 30 * DAY_MS;
    const design = designAt(histories, asOf, 90, fitBaselinesAt(histories, asOf));
    expect(Array.from(predictDesign(merged, design))).toEqual(Array.from(predictDesign(single, design)));
  });

  it('the merge refuses rows that differ from what the children trained on', () => {
    const cap = capturingTrainer();
    expect(() => trainClvForest(histories, CUTOFF, { ...opts, trainForest: cap.trainer })).toThrow(TrainingHandedOff);
    const forests = new Map<Role, Forest>(cap.sets.map((s) => [s.role, trainShare(s, 0, 1)!]));
    const changed = histories.map((h, i) => (i === 0 ? { ...h, events: [...h.events, { at: CUTOFF - 400 * DAY_MS, amount: 999, kind: 'purchase' as const }] } : h));
    expect(() => trainClvForest(changed, CUTOFF, { ...opts, trainForest: supplyingTrainer(cap.sets.map(summarize), forests) })).toThrow(/changed between the prepare step and the merge/);
  });

  it('round-trips baseline fits, non-finite numbers included', () => {
    const fits = new Map([[1, { bgnbd: { r: 0.1 + 0.2, alpha: Infinity, a: NaN, b: -0 }, gg: null, meanSpend: 1 / 3 }]]);
    expect(decodeFits(encodeFits(fits))).toEqual(fits);
  });

  it('round-trips the rows exactly, plain and packed (calibration rows as indexes into the main rows)', async () => {
    const cap = capturingTrainer();
    expect(() => trainClvForest(histories, CUTOFF, { ...opts, trainForest: cap.trainer })).toThrow(TrainingHandedOff);
    const main = cap.sets.find((s) => s.role === 'main')!;
    const cal = cap.sets.find((s) => s.role === 'calibration')!;
    const idx = subsequenceRows(main, cal);
    expect(idx).not.toBeNull();
    expect(idx!.length).toBe(cal.X.nRows);
    const packed = await packRoleSets(cap.sets);
    expect(packed.length).toBeLessThan(encodeRoleSet(main).length);
    const back = decodeRoleSet(encodeRoleSet(main));
    expect(summarize(back)).toEqual(summarize(main));
    const unpacked = await unpackRoleSets(packed);
    expect(unpacked.map(summarize)).toEqual(cap.sets.map(summarize));
  });

  it('ships a role in full when its rows are not a subsequence of the main rows', async () => {
    const cap = capturingTrainer();
    expect(() => trainClvForest(histories, CUTOFF, { ...opts, trainForest: cap.trainer })).toThrow(TrainingHandedOff);
    const main = cap.sets.find((s) => s.role === 'main')!;
    const cal = cap.sets.find((s) => s.role === 'calibration')!;
    // Same rows, one label changed: no longer a subsequence (labels count, not only features).
    const y = Float64Array.from(cal.y);
    y[3] = y[3]! + 1;
    const odd = { ...cal, y };
    expect(subsequenceRows(main, odd)).toBeNull();
    const unpacked = await unpackRoleSets(await packRoleSets([odd, main]));
    expect(unpacked.map(summarize)).toEqual([odd, main].map(summarize));
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
