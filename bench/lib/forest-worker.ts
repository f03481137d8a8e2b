/**
 * Worker-thread entry: announces it is loaded, then trains the trees for the seeds in
 * each job it receives and replies with the artifact bytes.
 */
import { parentPort } from 'node:worker_threads';
import { serializeForest, trainTrees } from '../../src/models/forest';
import type { ForestOptions } from '../../src/models/forest';

export interface ForestJob {
  X: Float64Array;
  y: Float64Array;
  nRows: number;
  nCols: number;
  options: Partial<ForestOptions>;
  seeds: Uint32Array;
}

const port = parentPort!;
port.on('message', (job: ForestJob) => {
  const f = trainTrees({ data: job.X, nRows: job.nRows, nCols: job.nCols, layout: 'row' }, job.y, job.options, job.seeds);
  const bytes = serializeForest(f);
  // Transfer, not copy: the artifact can be megabytes.
  port.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
});
port.postMessage('ready');
