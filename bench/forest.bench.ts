/**
 * Forest trainer benchmark against scikit-learn (same rows, same run) and against
 * ml-random-forest (the unpatched baseline, on a small size because it is O(n^2)).
 *
 *   npx tsx bench/forest.bench.ts [--rows 10000,50000] [--trees 100] [--depth 14]
 *     [--min-leaf 5] [--methods exact,hist] [--workers 2] [--holdout 20000]
 *     [--baseline-rows 1000] [--baseline-trees 20] [--no-sklearn] [--no-baseline]
 *
 * Rows are exported as float64 files to a temp dir so both trainers see identical data.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { forestStats, predict, serializeForest, trainForest } from '../src/models/forest';
import type { Forest, ForestOptions, SplitMethod } from '../src/models/forest';
import { type Pool, closePool, startPool, trainForestOnPool } from './lib/parallel';
import { type SyntheticData, makeClvData, r2, splitRows } from './lib/synthetic';
import { arg, argv } from './lib/args';

const flag = (name: string): boolean => argv.includes(`--${name}`);
const ROWS = arg('rows', '10000,50000').split(',').map(Number);
const TREES = Number(arg('trees', '100'));
const DEPTH = Number(arg('depth', '14'));
const MIN_LEAF = Number(arg('min-leaf', '5'));
const METHODS = arg('methods', 'exact,hist').split(',') as SplitMethod[];
const WORKERS = Number(arg('workers', '2'));
const HOLDOUT = Number(arg('holdout', '20000'));
const PYTHON = '/usr/bin/python3';
const MAX_FEATURES = 1 / 3;

interface Row {
  rows: number;
  impl: string;
  cores: number;
  seconds: number;
  r2: number;
  bytes?: number;
  nodes: number;
}

const fmt = (v: number, d = 2): string => v.toFixed(d);
const time = <T>(fn: () => T): [T, number] => {
  const t0 = performance.now();
  const out = fn();
  return [out, (performance.now() - t0) / 1000];
};

function exportRows(dir: string, train: SyntheticData, test: SyntheticData): void {
  const w = (name: string, a: Float64Array): void =>
    writeFileSync(path.join(dir, name), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  w('X_train.f64', train.X);
  w('y_train.f64', train.y);
  w('X_test.f64', test.X);
  w('y_test.f64', test.y);
}

function runSklearn(dir: string, nFeatures: number, rows: number): Row[] {
  const out = execFileSync(
    PYTHON,
    [
      path.join(__dirname, 'forest_sklearn.py'), '--dir', dir, '--features', String(nFeatures), '--trees', String(TREES),
      '--max-depth', String(DEPTH), '--min-leaf', String(MIN_LEAF), '--max-features', String(MAX_FEATURES), '--jobs', '1,2',
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { n_jobs: number; fit_s: number; r2: number; nodes: number })
    .map((j) => ({ rows, impl: 'scikit-learn', cores: j.n_jobs, seconds: j.fit_s, r2: j.r2, nodes: j.nodes }));
}

function ours(method: SplitMethod): Partial<ForestOptions> {
  return { nEstimators: TREES, maxDepth: DEPTH, minSamplesLeaf: MIN_LEAF, maxFeatures: MAX_FEATURES, bootstrap: true, splitMethod: method, seed: 42 };
}

function describe(rows: number, impl: string, cores: number, seconds: number, f: Forest, test: SyntheticData): Row {
  const pred = predict(f, { data: test.X, nRows: test.nRows, nCols: test.nFeatures, layout: 'row' });
  return { rows, impl, cores, seconds, r2: r2(test.y, pred), bytes: serializeForest(f).length, nodes: forestStats(f).nodes };
}

async function benchSize(rows: number, out: Row[], pool: Pool | null): Promise<void> {
  const { train, test } = splitRows(makeClvData(rows + HOLDOUT), rows);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'forest-bench-'));
  try {
    exportRows(dir, train, test);
    const X = { data: train.X, nRows: train.nRows, nCols: train.nFeatures, layout: 'row' as const };
    for (const m of METHODS) {
      const [f1, s1] = time(() => trainForest(X, train.y, ours(m)));
      out.push(describe(rows, `ours-${m}`, 1, s1, f1, test));
      if (pool) {
        const t0 = performance.now();
        const fp = await trainForestOnPool(pool, train.X, train.y, train.nRows, train.nFeatures, ours(m));
        const sp = (performance.now() - t0) / 1000;
        const same = Buffer.from(serializeForest(fp)).equals(Buffer.from(serializeForest(f1)));
        out.push(describe(rows, `ours-${m}${same ? '' : ' (MISMATCH)'}`, WORKERS, sp, fp, test));
      }
    }
    if (!flag('no-sklearn')) out.push(...runSklearn(dir, train.nFeatures, rows));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ml-random-forest on a small size: its per-node cost is quadratic in the node's rows. */
function baseline(): void {
  interface Rf {
    train(X: number[][], y: number[]): void;
    predict(X: number[][]): number[];
  }
  const { RandomForestRegression } = require('ml-random-forest') as { RandomForestRegression: new (o: object) => Rf };
  const n = Number(arg('baseline-rows', '1000'));
  const trees = Number(arg('baseline-trees', '20'));
  const { train, test } = splitRows(makeClvData(n + 5000, 11), n);
  const p = train.nFeatures;
  const rowsOf = (d: SyntheticData): number[][] => Array.from({ length: d.nRows }, (_, i) => Array.from(d.X.subarray(i * p, (i + 1) * p)));
  const rf = new RandomForestRegression({
    nEstimators: trees,
    maxFeatures: MAX_FEATURES, // per TREE in ml-random-forest (13 of 40 columns), per split in ours
    useSampleBagging: true,
    noOOB: true, // its OOB bookkeeping is slow and not what we compare
    seed: 42,
    treeOptions: { maxDepth: DEPTH, minNumSamples: 2 * MIN_LEAF - 1 },
  });
  const [, sBase] = time(() => rf.train(rowsOf(train), Array.from(train.y)));
  const r2Base = r2(test.y, rf.predict(rowsOf(test)));
  const X = { data: train.X, nRows: n, nCols: p, layout: 'row' as const };
  const opts = { ...ours('exact'), nEstimators: trees };
  trainForest(X, train.y, opts); // warm-up: at this size JIT compilation is a visible share
  const [f, sOurs] = time(() => trainForest(X, train.y, opts));
  const r2Ours = r2(test.y, predict(f, { data: test.X, nRows: test.nRows, nCols: p, layout: 'row' }));
  console.log(`\nBaseline at ${n} rows x ${p} features x ${trees} trees (depth ${DEPTH}, 1 core):`);
  console.log(`  ml-random-forest 2.1.0 : ${fmt(sBase, 3)} s   holdout R2 ${fmt(r2Base, 4)}`);
  console.log(`  ours-exact             : ${fmt(sOurs, 3)} s   holdout R2 ${fmt(r2Ours, 4)}`);
  console.log(`  speedup                : ${fmt(sBase / sOurs, 0)}x`);
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  console.log(`machine: ${cpus.length} cores (${cpus[0]?.model ?? '?'}), node ${process.version}, load avg ${os.loadavg().map((v) => fmt(v)).join(' ')}`);
  console.log(`config: ${TREES} trees, max depth ${DEPTH}, min leaf ${MIN_LEAF}, max features 1/3 per split, bootstrap, holdout ${HOLDOUT} rows`);
  const rows: Row[] = [];
  const pool = WORKERS > 1 ? await startPool(WORKERS) : null;
  try {
    for (const n of ROWS) await benchSize(n, rows, pool);
  } finally {
    if (pool) await closePool(pool);
  }
  console.log('\n| rows | features | implementation | cores | fit s | vs sklearn same cores | holdout R2 | R2 - sklearn | nodes | artifact bytes |');
  console.log('|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const sk = rows.find((s) => s.rows === r.rows && s.impl === 'scikit-learn' && s.cores === r.cores);
    const ratio = sk && r.impl !== 'scikit-learn' ? `${fmt(r.seconds / sk.seconds)}x` : '';
    const dr2 = sk && r.impl !== 'scikit-learn' ? fmt(r.r2 - sk.r2, 4) : '';
    console.log(
      `| ${r.rows} | 40 | ${r.impl} | ${r.cores} | ${fmt(r.seconds)} | ${ratio} | ${fmt(r.r2, 4)} | ${dr2} | ${r.nodes} | ${r.bytes ?? ''} |`,
    );
  }
  console.log(`ours with ${WORKERS} cores = ${WORKERS} pre-started worker threads; wall time includes copying the rows to each worker and each worker's presort.`);
  if (!flag('no-baseline')) baseline();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
