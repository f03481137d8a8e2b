import crypto from 'node:crypto';
import type { BaselineFit, History } from '../clv/clv-baselines';
import { type ForestTrainer, fitBaselinesAt } from '../clv/clv-forest';
import { type Forest, type ForestOptions, type Matrix, type TreeWorkspace, forestFromTrees, mergeForests, prepareDataset, resolveOptions, treeSeeds, trainTreesOn, treeWorkspace } from '../forest';
import { TrainingHandedOff } from './train.service';

/**
 * Pure pieces of fan-out training (the BullMQ side is in src/jobs/flows/train.flow.ts). trainClvForest asks a
 * ForestTrainer for its forests ('calibration' first, then 'main'); fan-out runs the same training several times:
 *   capture: a capturing trainer records each role's rows and stops before the main forest is grown — in the
 *            coordinator and in every tree job, each from the same histories, fits and cutoff;
 *   trees:   the trees of each role are cut into chunks (chunkPlan) that the participants claim one at a time;
 *            a chunk's seeds depend only on the tree indexes;
 *   replay:  a supplying trainer hands back the concatenated chunks after checking the rows it is given are the
 *            recorded ones (same fingerprint), so everything around the forests is the single-process code.
 * The merged forest therefore equals one grown in one process, byte for byte.
 */

export type Role = 'main' | 'calibration';

export interface RoleSet {
  role: Role;
  X: Matrix;
  y: Float64Array;
  opts: Partial<ForestOptions>;
}

export interface RoleSummary {
  role: Role;
  nTrees: number;
  rows: number;
  fingerprint: string;
}

export function summarize(set: RoleSet): RoleSummary {
  return { role: set.role, nTrees: resolveOptions(set.opts).nEstimators, rows: set.X.nRows, fingerprint: fingerprint(set) };
}

/** Identity of a role's training rows and options: children and the merge must all see exactly these. */
export function fingerprint(set: Pick<RoleSet, 'role' | 'X' | 'y' | 'opts'>): string {
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify([set.role, set.X.nRows, set.X.nCols, set.X.layout, sortedJson(set.opts)]));
  h.update(bytesOf(set.X.data));
  h.update(bytesOf(Float64Array.from(set.y)));
  return h.digest('hex');
}

/** Identity of a training's rows (every role's fingerprint): the namespace of its tree chunks in job_blobs. */
export function rowsId(roles: readonly RoleSummary[]): string {
  const h = crypto.createHash('sha256');
  for (const r of [...roles].sort((x, y) => x.role.localeCompare(y.role))) h.update(`${r.role}:${r.nTrees}:${r.fingerprint};`);
  return h.digest('hex').slice(0, 16);
}

export interface Chunk {
  role: Role;
  index: number;
  first: number;
  count: number;
}

/** Chunks per participant: enough that the last one claimed ends at most a few trees after the others. */
export const CHUNKS_PER_SHARE = 6;

/**
 * Every role's trees cut into contiguous chunks in claiming order: the main forest's (larger rows) first, so the
 * chunks claimed last are the cheap calibration ones and the participants finish close together.
 */
export function chunkPlan(roles: readonly Pick<RoleSummary, 'role' | 'nTrees'>[], of: number): Chunk[] {
  const out: Chunk[] = [];
  const order = [...roles].sort((a, b) => Number(b.role === 'main') - Number(a.role === 'main'));
  for (const r of order) {
    const k = Math.max(1, Math.min(r.nTrees, CHUNKS_PER_SHARE * Math.max(1, of)));
    for (let i = 0; i < k; i++) {
      const first = Math.floor((i * r.nTrees) / k);
      out.push({ role: r.role, index: i, first, count: Math.floor(((i + 1) * r.nTrees) / k) - first });
    }
  }
  return out;
}

// Sorting every column for the splitter costs about a second per role at 140k rows, and the splitter's buffers are
// tens of MB whose fresh allocation per chunk made V8 collect the worker's whole heap (the histories) every time:
// both once per set, not per chunk.
const prepared = new WeakMap<RoleSet, TreeWorkspace>();

/** Grows a chunk's trees: seeds by absolute tree index, as trainForest would. */
export function growChunk(set: RoleSet, chunk: Chunk, onTree?: (done: number, total: number) => void): Forest {
  const o = resolveOptions(set.opts);
  let ws = prepared.get(set);
  if (!ws) prepared.set(set, (ws = treeWorkspace(prepareDataset(set.X, set.y, o), o)));
  return trainTreesOn(ws.ds, o, treeSeeds(o.seed, chunk.count, chunk.first), onTree, ws);
}

/** Concatenates forests grown in parts (chunks in tree order), skipping empty ones. */
export function mergeShares(parts: readonly (Forest | null)[]): Forest {
  return mergeForests(parts.filter((p): p is Forest => p !== null));
}

/** Prepare step: records the rows of every role; the main role ends training with TrainingHandedOff. */
export function capturingTrainer(): { trainer: ForestTrainer; sets: RoleSet[] } {
  const sets: RoleSet[] = [];
  const trainer: ForestTrainer = (role, X, y, opts) => {
    sets.push({ role, X: { ...X, data: Float64Array.from(X.data) }, y: Float64Array.from(y), opts: { ...opts } });
    if (role === 'main') throw new TrainingHandedOff();
    // The calibration grid runs on this stand-in's predictions; its result is thrown away with the handoff.
    return forestFromTrees(X.nCols, [{ nNodes: 1, feature: Int32Array.of(-1), threshold: Float64Array.of(0), left: Int32Array.of(-1), right: Int32Array.of(-1), value: Float64Array.of(0) }]);
  };
  return { trainer, sets };
}

/** Merge step: returns the forests grown by the children, refusing rows that differ from the recorded ones. */
export function supplyingTrainer(expected: readonly RoleSummary[], forests: ReadonlyMap<Role, Forest>): ForestTrainer {
  return (role, X, y, opts) => {
    const want = expected.find((e) => e.role === role);
    const forest = forests.get(role);
    if (!want || !forest) throw new Error(`no ${role} trees were grown by the tree workers`);
    if (fingerprint({ role, X, y: Float64Array.from(y), opts }) !== want.fingerprint) {
      throw new Error(`the ${role} training rows changed between the prepare step and the merge (data written before the cutoff meanwhile?); retrain`);
    }
    if (forest.nTrees !== want.nTrees || forest.nFeatures !== X.nCols) throw new Error(`merged ${role} forest has ${forest.nTrees} trees, expected ${want.nTrees}`);
    return forest;
  };
}

/** Baseline fits by as-of date, computed once per participant or taken from another: a deterministic function of the same histories. */
export function fitCache(cache: Map<number, BaselineFit>) {
  return {
    cache,
    fit: (histories: readonly History[], asOf: number): BaselineFit => {
      let f = cache.get(asOf);
      if (!f) cache.set(asOf, (f = fitBaselinesAt(histories, asOf)));
      return f;
    },
  };
}

// JSON keeps every finite double exactly; non-finite ones (and -0) travel as strings.
export function encodeFits(fits: Map<number, BaselineFit>): string {
  return JSON.stringify([...fits], (_k, v) => (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? `num:${Object.is(v, -0) ? '-0' : v}` : v));
}

export function decodeFits(text: string): Map<number, BaselineFit> {
  return new Map(JSON.parse(text, (_k, v) => (typeof v === 'string' && v.startsWith('num:') ? Number(v.slice(4)) : v)) as [number, BaselineFit][]);
}

function bytesOf(a: Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function sortedJson(o: object): unknown {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
}

