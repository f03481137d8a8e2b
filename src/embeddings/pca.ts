/**
 * PCA of embedding vectors for the CLV model: fitted at training time on the training customers' profile
 * vectors, stored with the model version, applied at scoring time. Pure and deterministic (power iteration with
 * deflation on the covariance matrix, fixed start vectors), so a retrain on the same rows gives the same axes.
 */
export interface PcaModel {
  k: number;
  dim: number;
  mean: number[];
  /** k rows of `dim` unit vectors, by decreasing variance; each oriented so its largest component is positive. */
  components: number[][];
  explainedVariance: number[];
}

export function fitPca(vectors: ArrayLike<number>[], k = 8, iterations = 200): PcaModel {
  if (!vectors.length) throw new Error('fitPca needs at least one vector');
  const d = vectors[0]!.length;
  const n = vectors.length;
  k = Math.min(k, d);
  const mean = new Float64Array(d);
  for (const v of vectors) {
    if (v.length !== d) throw new Error(`vector has ${v.length} components, expected ${d}`);
    for (let i = 0; i < d; i++) mean[i]! += v[i]!;
  }
  for (let i = 0; i < d; i++) mean[i]! /= n;
  const cov = new Float64Array(d * d);
  const x = new Float64Array(d);
  for (const v of vectors) {
    for (let i = 0; i < d; i++) x[i] = v[i]! - mean[i]!;
    for (let i = 0; i < d; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      const row = i * d;
      for (let j = i; j < d; j++) cov[row + j]! += xi * x[j]!;
    }
  }
  const denom = Math.max(1, n - 1);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) cov[i * d + j] = cov[j * d + i] = cov[i * d + j]! / denom;

  const components: number[][] = [];
  const explainedVariance: number[] = [];
  const tmp = new Float64Array(d);
  for (let c = 0; c < k; c++) {
    let v = new Float64Array(d);
    for (let i = 0; i < d; i++) v[i] = 1 + ((i * 7919 + c * 104729) % 97) / 97; // fixed, non-degenerate start
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      for (let i = 0; i < d; i++) {
        let s = 0;
        const row = i * d;
        for (let j = 0; j < d; j++) s += cov[row + j]! * v[j]!;
        tmp[i] = s;
      }
      const norm = Math.hypot(...tmp);
      if (norm < 1e-12) {
        lambda = 0;
        break;
      }
      let delta = 0;
      for (let i = 0; i < d; i++) {
        const nv = tmp[i]! / norm;
        delta += Math.abs(nv - v[i]!);
        v[i] = nv;
      }
      lambda = norm;
      if (delta < 1e-10) break;
    }
    let big = 0;
    for (let i = 0; i < d; i++) if (Math.abs(v[i]!) > Math.abs(v[big]!)) big = i;
    if (v[big]! < 0) v = v.map((a) => -a);
    components.push(Array.from(v));
    explainedVariance.push(lambda);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cov[i * d + j]! -= lambda * v[i]! * v[j]!; // deflate
  }
  return { k, dim: d, mean: Array.from(mean), components, explainedVariance };
}

export function projectPca(model: PcaModel, v: ArrayLike<number>): number[] {
  if (v.length !== model.dim) throw new Error(`vector has ${v.length} components, PCA expects ${model.dim}`);
  return model.components.map((c) => {
    let s = 0;
    for (let i = 0; i < model.dim; i++) s += (v[i]! - model.mean[i]!) * c[i]!;
    return s;
  });
}
