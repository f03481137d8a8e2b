/**
 * Train a forest on a pool of worker threads. Tree i always gets seed
 * treeSeeds(seed)[i], so the merged result is bit-identical to a single-threaded
 * trainForest with the same options.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { deserializeForest, mergeForests, resolveOptions, treeSeeds } from '../../src/models/forest';
import type { Forest, ForestOptions } from '../../src/models/forest';
import type { ForestJob } from './forest-worker';

export interface Pool {
  workers: Worker[];
}

/** Start workers and wait until each has loaded the trainer (start-up is not training time). */
export async function startPool(size: number): Promise<Pool> {
  // Workers do not inherit tsx's loader hooks (and Node 20 ignores --import hooks for a
  // worker's entry file), so a tiny CJS bootstrap registers tsx and then loads the .ts.
  const file = path.join(__dirname, 'forest-worker.ts');
  const boot = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`;
  const workers = await Promise.all(
    Array.from(
      { length: size },
      () =>
        new Promise<Worker>((resolve, reject) => {
          const w = new Worker(boot, { eval: true });
          w.once('message', () => resolve(w));
          w.once('error', reject);
        }),
    ),
  );
  return { workers };
}

export async function closePool(pool: Pool): Promise<void> {
  await Promise.all(pool.workers.map((w) => w.terminate()));
}

export async function trainForestOnPool(
  pool: Pool,
  X: Float64Array,
  y: Float64Array,
  nRows: number,
  nCols: number,
  options: Partial<ForestOptions>,
): Promise<Forest> {
  const opts = resolveOptions(options);
  const seeds = treeSeeds(opts.seed, opts.nEstimators);
  const per = Math.ceil(seeds.length / pool.workers.length);
  const parts = await Promise.all(
    pool.workers.map((w, i) => {
      const job: ForestJob = { X, y, nRows, nCols, options: opts, seeds: seeds.slice(i * per, (i + 1) * per) };
      if (job.seeds.length === 0) return Promise.resolve(null);
      return new Promise<Uint8Array>((resolve, reject) => {
        const onError = (e: Error): void => reject(e);
        w.once('error', onError);
        w.once('message', (b: Uint8Array) => {
          w.off('error', onError);
          resolve(b);
        });
        w.postMessage(job);
      });
    }),
  );
  return mergeForests(parts.filter((b): b is Uint8Array => b !== null).map(deserializeForest));
}
