import { MISSING } from '../features/features.definitions';

/**
 * Behaviour vectors: a customer's current feature snapshot turned into a vector whose cosine distance means
 * "buys like". Pure computation; storage and refresh live in behavior-vectors.service.ts.
 *
 * 1. `log`: signed log1p — money, counts and day spans are heavy-tailed; without it a few whales set the scale
 *    and everyone else collapses onto the mean. `linear` for bounded values (shares, age).
 * 2. z-score with the mean/std of the whole population (stored in behavior_vector_stats, so a vector computed
 *    later for one customer agrees with the ones already stored), clipped to ±CLIP.
 * 3. Features that are undefined for a customer (MISSING, e.g. recency without a purchase) get z = 0: "typical",
 *    so they neither attract nor repel; other features (orders = 0) already tell such customers apart.
 * 4. A constant bias component, then L2 normalisation. Without the bias, cosine would see a customer 0.1σ above
 *    average on everything as identical to one 3σ above (same direction); with it, magnitude counts, and the
 *    exactly-average customer is not a zero vector (whose cosine distance is undefined).
 * region_code is left out: a hash bucket has no order, so its z-score would be noise.
 */
export type Transform = 'log' | 'linear';

export interface BehaviorFeature {
  name: string;
  transform: Transform;
  /** true when MISSING (-1) means "undefined" rather than a value */
  optional?: boolean;
}

const log = (name: string, optional = false): BehaviorFeature => ({ name, transform: 'log', optional });

export const BEHAVIOR_FEATURES: readonly BehaviorFeature[] = [
  log('recency_days', true),
  log('frequency'),
  log('orders'),
  log('tenure_days', true),
  log('active_span_days', true),
  log('monetary_total'),
  log('monetary_mean'),
  log('monetary_max'),
  log('monetary_last'),
  log('repeat_day_mean'),
  log('net_spend'),
  ...[30, 90, 180, 365].flatMap((w) => [log(`spend_${w}d`), log(`orders_${w}d`)]),
  log('gap_mean_days', true),
  log('gap_var_days', true),
  log('gap_last_days', true),
  log('overdue_ratio', true),
  { name: 'refund_share', transform: 'linear' },
  log('refund_count'),
  log('distinct_products'),
  log('distinct_categories'),
  log('quantity_mean'),
  log('spend_rate_per_day'),
  { name: 'age_years', transform: 'linear', optional: true },
  log('signup_age_days', true),
];

export const CLIP = 4;
export const BIAS = 1;
/** Features plus the bias component; the migration's HNSW index is built for this dimension. */
export const BEHAVIOR_DIM = BEHAVIOR_FEATURES.length + 1;

export interface FeatureStat {
  name: string;
  transform: Transform;
  mean: number;
  std: number;
}

export interface Standardization {
  features: FeatureStat[];
  clip: number;
  customerCount: number;
}

const log1p = Math.log1p;
const sqrt = Math.sqrt;

/** The transformed value, or null when the feature is undefined for this customer (or absent/non-finite). */
export function transformed(f: BehaviorFeature, raw: unknown): number | null {
  const x = typeof raw === 'number' ? raw : raw == null ? NaN : Number(raw);
  if (!Number.isFinite(x)) return null;
  if (f.optional && x === MISSING) return null;
  return f.transform === 'log' ? (x < 0 ? -log1p(-x) : log1p(x)) : x;
}

/** Streaming mean/variance (Welford) per feature over transformed values; missing values are skipped. */
export class StatsAccumulator {
  private readonly n: Float64Array;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private rows = 0;

  constructor(private readonly spec: readonly BehaviorFeature[] = BEHAVIOR_FEATURES) {
    this.n = new Float64Array(spec.length);
    this.mean = new Float64Array(spec.length);
    this.m2 = new Float64Array(spec.length);
  }

  add(values: Record<string, unknown>): void {
    this.rows++;
    this.spec.forEach((f, i) => {
      const x = transformed(f, values[f.name]);
      if (x == null) return;
      const n = ++this.n[i]!;
      const d = x - this.mean[i]!;
      this.mean[i]! += d / n;
      this.m2[i]! += d * (x - this.mean[i]!);
    });
  }

  result(clip = CLIP): Standardization {
    return {
      features: this.spec.map((f, i) => {
        const n = this.n[i]!;
        const std = n > 1 ? sqrt(this.m2[i]! / (n - 1)) : 0;
        // A constant feature carries no information: std 1 keeps its z at 0 instead of dividing by zero.
        return { name: f.name, transform: f.transform, mean: n ? this.mean[i]! : 0, std: std > 1e-12 ? std : 1 };
      }),
      clip,
      customerCount: this.rows,
    };
  }
}

/** The unit-length behaviour vector of one snapshot's values (length features + 1). */
export function behaviorVector(values: Record<string, unknown>, st: Standardization, spec: readonly BehaviorFeature[] = BEHAVIOR_FEATURES): Float64Array {
  const out = new Float64Array(st.features.length + 1);
  let norm = BIAS * BIAS;
  st.features.forEach((s, i) => {
    const f = spec[i]!;
    const x = transformed(f, values[s.name]);
    let z = x == null ? 0 : (x - s.mean) / s.std;
    if (z > st.clip) z = st.clip;
    else if (z < -st.clip) z = -st.clip;
    out[i] = z;
    norm += z * z;
  });
  out[st.features.length] = BIAS;
  const inv = 1 / sqrt(norm);
  for (let i = 0; i < out.length; i++) out[i]! *= inv;
  return out;
}

/** Whether stored stats were made for this spec (same features, same order and transforms). */
export function matchesSpec(st: Pick<Standardization, 'features'>, spec: readonly BehaviorFeature[] = BEHAVIOR_FEATURES): boolean {
  return st.features.length === spec.length && st.features.every((s, i) => s.name === spec[i]!.name && s.transform === spec[i]!.transform);
}

/** Mean of unit vectors, renormalised: the direction a set of seed customers share (lookalikes). */
export function centroid(vectors: readonly ArrayLike<number>[]): Float64Array {
  if (!vectors.length) throw new Error('centroid of no vectors');
  const dim = vectors[0]!.length;
  const c = new Float64Array(dim);
  for (const v of vectors) {
    if (v.length !== dim) throw new Error('vectors of different dimensions');
    let n = 0;
    for (let i = 0; i < dim; i++) n += v[i]! * v[i]!;
    const inv = n > 0 ? 1 / sqrt(n) : 0;
    for (let i = 0; i < dim; i++) c[i]! += v[i]! * inv;
  }
  let n = 0;
  for (let i = 0; i < dim; i++) n += c[i]! * c[i]!;
  if (!(n > 1e-24)) throw new Error('the seed vectors cancel out');
  const inv = 1 / sqrt(n);
  for (let i = 0; i < dim; i++) c[i]! *= inv;
  return c;
}

/** pgvector stores float4: 7 significant digits are all there is, and keep the JSON parameter small. */
export function compactVectorLiteral(v: ArrayLike<number>): string {
  let s = '[';
  for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + Number(v[i]!.toPrecision(7));
  return `${s}]`;
}
