/**
 * What two tree growers at once cost each other on this machine, with nothing else around them (no PostgreSQL, no
 * BullMQ): the same trees grown by one process alone (baseline), then by two processes at once. The scale-out flow's
 * per-tree loss on 2 workers compares against this. `--objects` keeps that many small objects alive in each process,
 * like a training worker's loaded histories.
 *
 *   npx tsx bench/forest-pair.bench.ts [--rows 142000] [--trees 32] [--rounds 3] [--objects 0]
 */
import { spawn } from 'node:child_process';
import { prepareDataset, resolveOptions, trainTreesOn, treeSeeds, treeWorkspace } from '../src/models/forest';
import { makeClvData } from './lib/synthetic';
import { arg, argv } from './lib/args';

const ROWS = Number(arg('rows', '142000'));
const TREES = Number(arg('trees', '32'));
const ROUNDS = Number(arg('rounds', '3'));
const OBJECTS = Number(arg('objects', '0'));

/** Child: prepare outside the timing, grow the trees, print the seconds. */
function grow(): void {
  const kept: { key: string; events: { at: number; amount: number }[] }[] = [];
  for (let i = 0; i < OBJECTS; i++) kept.push({ key: String(i), events: [{ at: i, amount: i % 97 }] });
  const d = makeClvData(ROWS);
  // The CLV forest's settings (src/models/clv/clv-forest.ts DEFAULT_FOREST).
  const o = resolveOptions({ nEstimators: TREES, maxDepth: 12, minSamplesLeaf: 10, maxFeatures: 0.5, seed: 42 });
  const ds = prepareDataset({ data: d.X, nRows: ROWS, nCols: d.nFeatures, layout: 'row' }, d.y, o);
  const ws = treeWorkspace(ds, o);
  const t0 = performance.now();
  trainTreesOn(ds, o, treeSeeds(o.seed, TREES), undefined, ws);
  process.stdout.write(`${(performance.now() - t0) / 1000} ${kept.length}\n`);
}

function child(): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, __filename, ...argv, '--child'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b) => (out += String(b)));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(Number(out.trim().split(' ')[0])) : reject(new Error(`child exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  console.log(`${ROWS} synthetic rows, ${TREES} trees per process, ${OBJECTS} objects kept per process, ${ROUNDS} rounds`);
  let alone = 0;
  let paired = 0;
  for (let r = 1; r <= ROUNDS; r++) {
    const a = await child();
    const [b, c] = await Promise.all([child(), child()]);
    alone += a;
    paired += (b + c) / 2;
    console.log(`round ${r}: alone ${a.toFixed(2)} s (baseline), two at once ${b.toFixed(2)} / ${c.toFixed(2)} s, ratio ${(Math.max(b, c) / a).toFixed(2)} (slower of the two)`);
  }
  console.log(`mean: alone ${(alone / ROUNDS).toFixed(2)} s, two at once ${(paired / ROUNDS).toFixed(2)} s each: ${(((paired / alone) - 1) * 100).toFixed(0)}% more per tree; ` +
    `two growers deliver ${((2 * alone) / paired).toFixed(2)}x the trees of one`);
}

if (argv.includes('--child')) grow();
else void main();
