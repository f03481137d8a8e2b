/**
 * CLV training benchmark on feature-store rows: synthetic customer histories → the real feature definitions
 * (+ stacked BG/NBD features, 40 columns) as of T − h, label = net spend in (T − h, T] → our forest vs
 * scikit-learn's RandomForestRegressor on the same exported rows, same trees/depth/min leaf/feature fraction,
 * 1 core each, same run.
 *
 *   npx tsx bench/train.bench.ts [--customers 10000,50000] [--trees 100] [--depth 14] [--min-leaf 5]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DAY_MS, netSpendBetween } from '../src/features/features.definitions';
import type { History } from '../src/models/clv/clv-baselines';
import { designAt, fitBaselinesAt } from '../src/models/clv/clv-forest';
import { Mulberry32, predict, serializeForest, trainForest } from '../src/models/forest';
import { r2 } from '../src/models/metrics';
import { arg } from './lib/args';

const SIZES = arg('customers', '10000,50000').split(',').map(Number);
const TREES = Number(arg('trees', '100'));
const DEPTH = Number(arg('depth', '14'));
const MIN_LEAF = Number(arg('min-leaf', '5'));
const MAX_FEATURES = 1 / 3;
const START = Date.UTC(2022, 0, 1);
const T = Date.UTC(2023, 6, 1);
const H = 180;

export function syntheticHistories(n: number, seed = 1): History[] {
  const m = new Mulberry32(seed);
  const u = () => m.nextU32() / 4294967296;
  const out: History[] = [];
  for (let c = 0; c < n; c++) {
    const rate = 0.003 + u() ** 2 * 0.1;
    const basket = 15 + u() ** 2 * 400;
    const end = START + (200 + u() * 700) * DAY_MS;
    const events: History['events'] = [];
    for (let t = START + u() * 400 * DAY_MS; t < Math.min(end, T); t += (-Math.log(1 - u()) / rate) * DAY_MS) {
      events.push({ at: t, amount: basket * (0.4 + 1.2 * u()), kind: 'purchase', productId: `p${Math.floor(u() * 500)}`, category: `k${Math.floor(u() * 12)}`, quantity: 1 + Math.floor(u() * 4) });
      if (u() < 0.04) events.push({ at: t + 3 * DAY_MS, amount: basket * 0.3, kind: 'refund' });
    }
    out.push({ key: String(c), events, attrs: { birthYear: 1950 + Math.floor(u() * 50), region: `r${Math.floor(u() * 8)}`, signupAt: START - u() * 300 * DAY_MS } });
  }
  return out;
}

function rows(histories: History[]) {
  const asOf = T - H * DAY_MS;
  const d = designAt(histories, asOf, H, fitBaselinesAt(histories, asOf));
  const byKey = new Map(histories.map((h) => [h.key, h]));
  const y = Float64Array.from(d.keys, (k) => Math.log1p(Math.max(0, netSpendBetween(byKey.get(k)!.events, asOf, T))));
  return { X: d.X, y, nRows: d.keys.length, nCols: d.nCols };
}

const f64 = (a: Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

console.log(`cores ${os.cpus().length}, load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}; trees ${TREES}, depth ${DEPTH}, min leaf ${MIN_LEAF}, max features ${MAX_FEATURES.toFixed(3)}`);
console.log('| customers (train rows) | features | scikit-learn 1 core s | ours 1 core s | ratio | R² sklearn | R² ours | artifact MB |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const n of SIZES) {
  // Train on n customers, hold out 20% more from the same generator.
  const all = rows(syntheticHistories(Math.round(n * 1.25), n));
  const nTrain = Math.round(all.nRows * 0.8);
  const Xtr = all.X.subarray(0, nTrain * all.nCols);
  const Xte = all.X.subarray(nTrain * all.nCols);
  const ytr = all.y.subarray(0, nTrain);
  const yte = all.y.subarray(nTrain);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vg-train-bench-'));
  try {
    writeFileSync(path.join(dir, 'X_train.f64'), f64(Xtr));
    writeFileSync(path.join(dir, 'y_train.f64'), f64(ytr));
    writeFileSync(path.join(dir, 'X_test.f64'), f64(Xte));
    writeFileSync(path.join(dir, 'y_test.f64'), f64(yte));
    const sk = JSON.parse(
      execFileSync('/usr/bin/python3', [path.join(__dirname, 'forest_sklearn.py'), '--dir', dir, '--features', String(all.nCols), '--trees', String(TREES),
        '--max-depth', String(DEPTH), '--min-leaf', String(MIN_LEAF), '--max-features', String(MAX_FEATURES), '--jobs', '1'], { encoding: 'utf8' }).trim().split('\n')[0]!,
    ) as { fit_s: number; r2: number };
    const t0 = performance.now();
    const forest = trainForest({ data: Xtr, nRows: nTrain, nCols: all.nCols, layout: 'row' }, ytr, { nEstimators: TREES, maxDepth: DEPTH, minSamplesLeaf: MIN_LEAF, maxFeatures: MAX_FEATURES, seed: 1 });
    const ours = (performance.now() - t0) / 1000;
    const pred = predict(forest, { data: Xte, nRows: yte.length, nCols: all.nCols, layout: 'row' });
    const bytes = serializeForest(forest).byteLength;
    console.log(`| ${n} (${nTrain}) | ${all.nCols} | ${sk.fit_s.toFixed(2)} | ${ours.toFixed(2)} | ${(ours / sk.fit_s).toFixed(2)}x | ${sk.r2.toFixed(3)} | ${r2(yte, pred).toFixed(3)} | ${(bytes / 1e6).toFixed(2)} |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
