import crypto from 'node:crypto';
import type { BaselineFit, History } from '../clv/clv-baselines';
import { type ForestTrainer, fitBaselinesAt } from '../clv/clv-forest';
import { type Forest, type ForestOptions, type Matrix, forestFromTrees, mergeForests, resolveOptions, treeSeeds, trainTrees } from '../forest';
import { TrainingHandedOff } from './train.service';

/**
 * Pure pieces of fan-out training (the BullMQ flow is in src/jobs/flows/train.flow.ts). trainClvForest asks a
 * ForestTrainer for its forests ('calibration' first, then 'main'); fan-out runs the same training three times:
 *   prepare: a capturing trainer records each role's rows and stops before the main forest is grown;
 *   children: each grows its share of every role's trees from the recorded rows, seeds by tree index;
 *   merge: a supplying trainer hands back the concatenated shares after checking the rows it is given are the
 *          recorded ones (same fingerprint), so everything around the forests is the single-process code.
 * Tree seeds depend only on (forest seed, tree index), so the merged forest equals one grown in one process.
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

/** Share i of k: a contiguous range of tree indexes (sizes differ by at most one). */
export function shareRange(nTrees: number, share: number, of: number): { first: number; count: number } {
  const first = Math.floor((share * nTrees) / of);
  return { first, count: Math.floor(((share + 1) * nTrees) / of) - first };
}

/** Grows trees [first, first + count) of the role's forest: seeds by absolute index, as trainForest would. */
export function trainShare(set: RoleSet, share: number, of: number, onTree?: (done: number, total: number) => void): Forest | null {
  const { first, count } = shareRange(resolveOptions(set.opts).nEstimators, share, of);
  if (count === 0) return null;
  return trainTrees(set.X, set.y, set.opts, treeSeeds(resolveOptions(set.opts).seed, count, first), onTree);
}

/** Concatenates the shares in share order (skipping empty ones). */
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

/** Binary form of a role's rows for job_blobs: u32 header length, JSON header, X then y as float64. */
export function encodeRoleSet(set: RoleSet): Buffer {
  const header = Buffer.from(JSON.stringify({ role: set.role, nRows: set.X.nRows, nCols: set.X.nCols, layout: set.X.layout, opts: set.opts }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const pad = Buffer.alloc((8 - ((4 + header.length) % 8)) % 8, 0x20);
  return Buffer.concat([len, header, pad, bytesOf(set.X.data), bytesOf(set.y)]);
}

export function decodeRoleSet(buf: Buffer): RoleSet {
  const n = buf.readUInt32LE(0);
  const h = JSON.parse(buf.subarray(4, 4 + n).toString()) as { role: Role; nRows: number; nCols: number; layout: 'row' | 'col'; opts: Partial<ForestOptions> };
  const off = 4 + n + ((8 - ((4 + n) % 8)) % 8);
  const floats = (from: number, count: number) => {
    const out = new Float64Array(count);
    Buffer.from(out.buffer).set(buf.subarray(from, from + count * 8));
    return out;
  };
  const cells = h.nRows * h.nCols;
  return { role: h.role, X: { data: floats(off, cells), nRows: h.nRows, nCols: h.nCols, layout: h.layout }, y: floats(off + cells * 8, h.nRows), opts: h.opts };
}

/** Baseline fits by as-of date, computed once per flow: a deterministic function of the same histories. */
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

/**
 * Binary form of histories for job_blobs (training's load children → rows step and merge): a JSON header with
 * keys, attributes, event counts and strings, then every event's time, amount and quantity as float64 (exact,
 * -0 and NaN included). Decoding gives objects shaped like historyBatches' (same fields, same order).
 */
export function encodeHistories(histories: readonly History[]): Buffer {
  let n = 0;
  for (const h of histories) n += h.events.length;
  const nums = new Float64Array(n * 3);
  const kinds: string[] = [];
  const products: (string | null)[] = [];
  const categories: (string | null)[] = [];
  let i = 0;
  for (const h of histories) {
    for (const e of h.events) {
      nums[i * 3] = e.at;
      nums[i * 3 + 1] = e.amount;
      // NaN stands for a missing quantity.
      nums[i * 3 + 2] = e.quantity ?? Number.NaN;
      kinds.push(e.kind === 'refund' ? 'r' : 'p');
      products.push(e.productId ?? null);
      categories.push(e.category ?? null);
      i++;
    }
  }
  const header = {
    keys: histories.map((h) => h.key),
    attrs: histories.map((h) => [h.attrs.birthYear ?? null, h.attrs.region ?? null, h.attrs.signupAt ?? null]),
    counts: histories.map((h) => h.events.length),
    kinds: kinds.join(''),
    products,
    categories,
  };
  return withHeader(header, bytesOf(nums));
}

export function decodeHistories(buf: Buffer): History[] {
  const { header, body } = readHeader<{ keys: string[]; attrs: [number | null, string | null, number | null][]; counts: number[]; kinds: string; products: (string | null)[]; categories: (string | null)[] }>(buf);
  const nums = new Float64Array(body.length / 8);
  Buffer.from(nums.buffer).set(body);
  const out: History[] = [];
  let i = 0;
  header.keys.forEach((key, c) => {
    const [birthYear, region, signupAt] = header.attrs[c]!;
    const events = new Array(header.counts[c]!);
    for (let k = 0; k < events.length; k++, i++) {
      const q = nums[i * 3 + 2]!;
      events[k] = { at: nums[i * 3]!, amount: nums[i * 3 + 1]!, kind: header.kinds[i] === 'r' ? 'refund' : 'purchase', productId: header.products[i]!, category: header.categories[i]!, quantity: Number.isNaN(q) ? undefined : q };
    }
    out.push({ key, events, attrs: { birthYear, region, signupAt } });
  });
  return out;
}

function withHeader(header: unknown, body: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  const pad = Buffer.alloc((8 - ((4 + json.length) % 8)) % 8, 0x20);
  return Buffer.concat([len, json, pad, body]);
}

function readHeader<T>(buf: Buffer): { header: T; body: Buffer } {
  const n = buf.readUInt32LE(0);
  const header = JSON.parse(buf.subarray(4, 4 + n).toString()) as T;
  return { header, body: buf.subarray(4 + n + ((8 - ((4 + n) % 8)) % 8)) };
}
