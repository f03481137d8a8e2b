/**
 * Tree growth in chunks inside a process that holds a large heap (a training worker keeps every customer's
 * history in memory): the same trees grown as one forest, as chunks that each allocate the splitter's buffers,
 * and as chunks on one reused workspace (what growChunk does). Each fresh tens-of-MB allocation is external
 * memory that makes V8 collect the whole heap. Baseline: the whole forest in the same run.
 *
 *   npx tsx bench/forest-heap.bench.ts [--rows 142000] [--trees 24] [--chunk 2] [--objects 2000000]
 */
import { prepareDataset, resolveOptions, trainTreesOn, treeSeeds, treeWorkspace } from '../src/models/forest';
import { makeClvData } from './lib/synthetic';
import { arg } from './lib/args';

const ROWS = Number(arg('rows', '142000'));
const TREES = Number(arg('trees', '24'));
const CHUNK = Number(arg('chunk', '2'));
const OBJECTS = Number(arg('objects', '2000000'));

// Shaped like loaded histories: many small objects that stay alive for the whole training.
const kept: { key: string; events: { at: number; amount: number; kind: string }[] }[] = [];
for (let i = 0; i < OBJECTS; i++) kept.push({ key: String(i), events: [{ at: Date.now() - i, amount: i % 97, kind: 'purchase' }] });

const d = makeClvData(ROWS);
const o = resolveOptions({ nEstimators: TREES, maxDepth: 12, minSamplesLeaf: 10, maxFeatures: 0.5, seed: 42 });
const ds = prepareDataset({ data: d.X, nRows: ROWS, nCols: d.nFeatures, layout: 'row' }, d.y, o);
const timed = (fn: () => void) => {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
};
const chunks = (ws?: ReturnType<typeof treeWorkspace>) => {
  for (let first = 0; first < TREES; first += CHUNK) trainTreesOn(ds, o, treeSeeds(o.seed, Math.min(CHUNK, TREES - first), first), undefined, ws);
};

console.log(`${ROWS} rows x ${d.nFeatures} features, ${TREES} trees, chunks of ${CHUNK}, ${OBJECTS} objects kept (${kept.length})`);
const whole = timed(() => trainTreesOn(ds, o, treeSeeds(o.seed, TREES)));
const fresh = timed(() => chunks());
const reused = timed(() => chunks(treeWorkspace(ds, o)));
console.log(`whole forest (baseline)      ${whole.toFixed(2)} s`);
console.log(`chunks, fresh buffers each   ${fresh.toFixed(2)} s  ratio ${(fresh / whole).toFixed(2)}`);
console.log(`chunks, one reused workspace ${reused.toFixed(2)} s  ratio ${(reused / whole).toFixed(2)}`);
