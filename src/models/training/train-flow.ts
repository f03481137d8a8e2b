import crypto from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
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

/** Binary form of a role's rows: u32 header length, JSON header, padding to 8 bytes, X then y as float64. */
export function encodeRoleSet(set: RoleSet): Buffer {
  return withJsonHeader({ role: set.role, nRows: set.X.nRows, nCols: set.X.nCols, layout: set.X.layout, opts: set.opts }, Buffer.concat([bytesOf(set.X.data), bytesOf(set.y)]));
}

const deflateRaw = promisify(zlib.deflateRaw);
const inflateRaw = promisify(zlib.inflateRaw);

/**
 * Every role's rows in one deflated blob (level 1, in libuv's thread pool) for the tree jobs. The calibration
 * forest trains on a subset of the main rows, so a role whose rows and labels are a subsequence of the main
 * role's travels as row indexes. The bytea round trip costs far more per MB than the codec: at 60k customers
 * 74 MB of float64 rows became ~15 MB, and the put and a share job's read had taken 9 and 10 s on a loaded
 * 2-core machine (BENCHMARKS.md, issue 8).
 */
export async function packRoleSets(sets: readonly RoleSet[]): Promise<Buffer> {
  const main = sets.find((s) => s.role === 'main');
  const parts = sets.map((s) => {
    const idx = main && s !== main ? subsequenceRows(main, s) : null;
    return idx ? withJsonHeader({ role: s.role, ref: main!.role, opts: s.opts }, Buffer.from(idx.buffer, idx.byteOffset, idx.byteLength)) : encodeRoleSet(s);
  });
  const lengths = Buffer.alloc(4 * (parts.length + 1));
  lengths.writeUInt32LE(parts.length, 0);
  parts.forEach((part, i) => lengths.writeUInt32LE(part.length, 4 * (i + 1)));
  return deflateRaw(Buffer.concat([lengths, ...parts]), { level: 1 });
}

export async function unpackRoleSets(buf: Buffer): Promise<RoleSet[]> {
  const raw = await inflateRaw(buf);
  const n = raw.readUInt32LE(0);
  const parts: Buffer[] = [];
  let off = 4 * (n + 1);
  for (let i = 0; i < n; i++) {
    const len = raw.readUInt32LE(4 * (i + 1));
    parts.push(raw.subarray(off, off + len));
    off += len;
  }
  const refs = parts.map((part) => {
    const { header, body } = readJsonHeader<{ ref?: Role; role: Role; opts: Partial<ForestOptions> }>(part);
    if (!header.ref) return null;
    // Copied, as in decodeRoleSet: the body's offset need not be aligned for an Int32Array view.
    const idx = new Int32Array(body.length / 4);
    Buffer.from(idx.buffer).set(body);
    return { ...header, ref: header.ref, idx };
  });
  const full = parts.map((part, i) => (refs[i] ? null : decodeRoleSet(part)));
  return full.map((set, i) => {
    if (set) return set;
    const r = refs[i]!;
    const of = full.find((f) => f?.role === r.ref);
    if (!of) throw new Error(`rows of ${r.role} refer to missing ${r.ref} rows`);
    return { role: r.role, X: takeRows(of.X, r.idx), y: Float64Array.from(r.idx, (k) => of.y[k]!), opts: r.opts };
  });
}

/** Leftmost match of sub's rows (features and label, bit for bit) in of's, or null when sub is not a subsequence. */
export function subsequenceRows(of: RoleSet, sub: RoleSet): Int32Array | null {
  const c = of.X.nCols;
  if (sub.X.nCols !== c || of.X.layout !== 'row' || sub.X.layout !== 'row') return null;
  const idx = new Int32Array(sub.X.nRows);
  let j = 0;
  for (let i = 0; i < of.X.nRows && j < sub.X.nRows; i++) {
    if (!Object.is(of.y[i], sub.y[j])) continue;
    let same = true;
    for (let k = 0; k < c && same; k++) same = Object.is(of.X.data[i * c + k], sub.X.data[j * c + k]);
    if (same) idx[j++] = i;
  }
  return j === sub.X.nRows ? idx : null;
}

function takeRows(X: Matrix, idx: Int32Array): Matrix {
  const c = X.nCols;
  const out = new Float64Array(idx.length * c);
  idx.forEach((r, i) => out.set(X.data.subarray(r * c, (r + 1) * c), i * c));
  return { data: out, nRows: idx.length, nCols: c, layout: X.layout };
}

export function decodeRoleSet(buf: Buffer): RoleSet {
  const { header: h, body } = readJsonHeader<{ role: Role; nRows: number; nCols: number; layout: 'row' | 'col'; opts: Partial<ForestOptions> }>(buf);
  // Copied: the body's offset in a larger buffer need not be 8-aligned for a Float64Array view.
  const all = new Float64Array(body.length / 8);
  Buffer.from(all.buffer).set(body);
  const cells = h.nRows * h.nCols;
  return { role: h.role, X: { data: all.subarray(0, cells), nRows: h.nRows, nCols: h.nCols, layout: h.layout }, y: all.subarray(cells, cells + h.nRows), opts: h.opts };
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

function withJsonHeader(header: unknown, body: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  const pad = Buffer.alloc((8 - ((4 + json.length) % 8)) % 8, 0x20);
  return Buffer.concat([len, json, pad, body]);
}

function readJsonHeader<T>(buf: Buffer): { header: T; body: Buffer } {
  const n = buf.readUInt32LE(0);
  const header = JSON.parse(buf.subarray(4, 4 + n).toString()) as T;
  return { header, body: buf.subarray(4 + n + ((8 - ((4 + n) % 8)) % 8)) };
}
