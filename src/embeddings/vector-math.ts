/** Small dense-vector helpers shared by providers, profiles, concepts and PCA. Pure. */

export function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`dimension mismatch: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const na = Math.sqrt(dot(a, a));
  const nb = Math.sqrt(dot(b, b));
  return na > 0 && nb > 0 ? dot(a, b) / (na * nb) : 0;
}

/** Weighted mean, then L2-normalised (so cosine against it is a dot product). */
export function weightedMean(vectors: ArrayLike<number>[], weights: number[], dim: number): Float32Array {
  const out = new Float32Array(dim);
  for (let j = 0; j < vectors.length; j++) {
    const v = vectors[j]!;
    if (v.length !== dim) throw new Error(`vector has ${v.length} components, expected ${dim}`);
    const w = weights[j]!;
    for (let i = 0; i < dim; i++) out[i] = out[i]! + w * v[i]!;
  }
  return l2normalize(out);
}

/**
 * Mean pooling of a [batch, tokens, hidden] tensor over the tokens the attention mask keeps, then L2 norm:
 * what sentence-transformers does for MiniLM.
 */
export function meanPool(hidden: Float32Array, mask: ArrayLike<number | bigint>, batch: number, tokens: number, dim: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let b = 0; b < batch; b++) {
    const v = new Float32Array(dim);
    let n = 0;
    for (let t = 0; t < tokens; t++) {
      if (!Number(mask[b * tokens + t])) continue;
      n++;
      const off = (b * tokens + t) * dim;
      for (let i = 0; i < dim; i++) v[i] = v[i]! + hidden[off + i]!;
    }
    if (n > 0) for (let i = 0; i < dim; i++) v[i] = v[i]! / n;
    out.push(l2normalize(v));
  }
  return out;
}

/** Runs `fn` on batches of texts sorted by length (less padding), returning results in input order. */
export async function embedSortedBatches(
  texts: string[],
  batchSize: number,
  fn: (batch: string[]) => Promise<Float32Array[]>,
): Promise<Float32Array[]> {
  const order = texts.map((_, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length || a - b);
  const out = new Array<Float32Array>(texts.length);
  for (let i = 0; i < order.length; i += batchSize) {
    const idx = order.slice(i, i + batchSize);
    const vecs = await fn(idx.map((k) => texts[k]!));
    if (vecs.length !== idx.length) throw new Error(`embedding batch returned ${vecs.length} vectors for ${idx.length} texts`);
    idx.forEach((k, j) => (out[k] = vecs[j]!));
  }
  return out;
}
