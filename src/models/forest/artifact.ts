/**
 * Compact, lossless binary artifact for a Forest.
 *
 * Layout (little-endian, every section 8-byte aligned):
 *   header   'VGRF' u16 version u16 flags u32 nFeatures u32 nTrees u32 nNodes u32 nInternal
 *   u32[nTrees]            nodes per tree
 *   u32[nTrees]            tree seeds
 *   f64[nTrees*nFeatures]  raw impurity decrease per tree and feature
 *   f64[nInternal]         thresholds of internal nodes, in node order
 *   f32|f64[nNodes]        node means (f32 when every value is float32-exact: flag bit 0 clear)
 *   i16[nNodes]            split feature, -1 for leaves
 * Nodes are in preorder, so the left child is the next node and right children are
 * recovered with a stack: no child pointers are stored (~10 bytes/node instead of ~26).
 * Thresholds stay f64: they are midpoints of float64 data, and rounding them to f32
 * would re-route training rows whose values sit within float32 precision of a split.
 */
import { forestFromTrees } from './train';
import type { TreeArrays } from './tree';
import type { Forest } from './types';

const MAGIC = 0x46524756; // 'VGRF' read as little-endian u32
const VERSION = 1;
const HEADER = 24;
const F64_VALUES = 1;

const align8 = (n: number): number => (n + 7) & ~7;

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('forest artifacts need a little-endian host');
}

function layout(nFeatures: number, nTrees: number, nNodes: number, nInternal: number, f64Values: boolean) {
  const sizes = [4 * nTrees, 4 * nTrees, 8 * nTrees * nFeatures, 8 * nInternal, (f64Values ? 8 : 4) * nNodes, 2 * nNodes];
  const offsets: number[] = [];
  let off = HEADER;
  for (const s of sizes) {
    off = align8(off);
    offsets.push(off);
    off += s;
  }
  return { offsets, total: align8(off) };
}

export function serializeForest(f: Forest): Uint8Array {
  assertLittleEndian();
  if (f.nFeatures > 32767) throw new RangeError('artifact stores feature ids as int16');
  const nNodes = f.feature.length;
  let nInternal = 0;
  let f64Values = false;
  for (let i = 0; i < nNodes; i++) {
    if (f.feature[i]! >= 0) nInternal++;
    if (Math.fround(f.value[i]!) !== f.value[i]!) f64Values = true;
  }
  const { offsets, total } = layout(f.nFeatures, f.nTrees, nNodes, nInternal, f64Values);
  const buf = new ArrayBuffer(total);
  const dv = new DataView(buf);
  dv.setUint32(0, MAGIC, true);
  dv.setUint16(4, VERSION, true);
  dv.setUint16(6, f64Values ? F64_VALUES : 0, true);
  dv.setUint32(8, f.nFeatures, true);
  dv.setUint32(12, f.nTrees, true);
  dv.setUint32(16, nNodes, true);
  dv.setUint32(20, nInternal, true);
  const [oSize, oSeed, oImp, oThr, oVal, oFeat] = offsets as [number, number, number, number, number, number];
  const sizes = new Uint32Array(buf, oSize, f.nTrees);
  for (let t = 0; t < f.nTrees; t++) sizes[t] = f.treeStart[t + 1]! - f.treeStart[t]!;
  new Uint32Array(buf, oSeed, f.nTrees).set(f.seeds);
  new Float64Array(buf, oImp, f.nTrees * f.nFeatures).set(f.importance);
  const thr = new Float64Array(buf, oThr, nInternal);
  // Trees are contiguous and already preorder, so node order is the artifact order.
  for (let i = 0, k = 0; i < nNodes; i++) if (f.feature[i]! >= 0) thr[k++] = f.threshold[i]!;
  (f64Values ? new Float64Array(buf, oVal, nNodes) : new Float32Array(buf, oVal, nNodes)).set(f.value);
  new Int16Array(buf, oFeat, nNodes).set(f.feature);
  return new Uint8Array(buf);
}

export function deserializeForest(bytes: Uint8Array): Forest {
  assertLittleEndian();
  // Typed-array views need aligned offsets; Buffers from fs often are not.
  const b = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const fail = (why: string): never => {
    throw new Error(`not a valid forest artifact: ${why}`);
  };
  if (b.byteLength < HEADER) fail('too short');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) fail('bad magic');
  if (dv.getUint16(4, true) !== VERSION) fail(`unsupported version ${dv.getUint16(4, true)}`);
  const f64Values = (dv.getUint16(6, true) & F64_VALUES) !== 0;
  const nFeatures = dv.getUint32(8, true);
  const nTrees = dv.getUint32(12, true);
  const nNodes = dv.getUint32(16, true);
  const nInternal = dv.getUint32(20, true);
  const { offsets, total } = layout(nFeatures, nTrees, nNodes, nInternal, f64Values);
  if (b.byteLength !== total) fail(`expected ${total} bytes, got ${b.byteLength}`);
  const at = (i: number): number => b.byteOffset + offsets[i]!;
  const sizes = new Uint32Array(b.buffer, at(0), nTrees);
  const seeds = new Uint32Array(b.buffer, at(1), nTrees).slice();
  const importance = new Float64Array(b.buffer, at(2), nTrees * nFeatures).slice();
  const thr = new Float64Array(b.buffer, at(3), nInternal);
  const val = f64Values ? new Float64Array(b.buffer, at(4), nNodes) : new Float32Array(b.buffer, at(4), nNodes);
  const feat = new Int16Array(b.buffer, at(5), nNodes);
  const trees: TreeArrays[] = [];
  let node = 0;
  let k = 0;
  for (let t = 0; t < nTrees; t++) {
    const size = sizes[t]!;
    if (size < 1 || node + size > nNodes) fail(`tree ${t} has a bad node count`);
    const tree: TreeArrays = {
      nNodes: size,
      feature: Int32Array.from(feat.subarray(node, node + size)),
      threshold: new Float64Array(size),
      left: new Int32Array(size).fill(-1),
      right: new Int32Array(size).fill(-1),
      value: Float64Array.from(val.subarray(node, node + size)),
    };
    // Stack of internal nodes still missing a child: the next preorder node is the
    // left child of the top if that is unset, otherwise its right child.
    const pending: number[] = [];
    for (let i = 0; i < size; i++) {
      if (i > 0) {
        const parent = pending[pending.length - 1] ?? fail(`tree ${t} has nodes after it is complete`);
        if (tree.left[parent]! < 0) tree.left[parent] = i;
        else {
          tree.right[parent] = i;
          pending.pop();
        }
      }
      const ft = tree.feature[i]!;
      if (ft >= nFeatures || ft < -1) fail(`feature id ${ft} out of range`);
      if (ft >= 0) {
        tree.threshold[i] = thr[k++] ?? fail('too few thresholds');
        pending.push(i);
      }
    }
    if (pending.length > 0) fail(`tree ${t} is incomplete`);
    trees.push(tree);
    node += size;
  }
  if (node !== nNodes || k !== nInternal) fail('node counts do not add up');
  return forestFromTrees(nFeatures, trees, importance, seeds);
}
