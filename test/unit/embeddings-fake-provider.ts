import type { EmbeddingProvider } from '../../src/embeddings/embedding.types';
import { l2normalize } from '../../src/embeddings/vector-math';

/** Axis per concept of the default set; a text points along the axes of the keywords it contains. */
const AXES: [string, RegExp][] = [
  ['satisfied', /\b(great|love|happy|excellent|perfect|thank)/],
  ['complaint', /\b(terrible|angry|worst|complaint|broke|unacceptable)/],
  ['delivery_problem', /\b(late|delivery|package|parcel|shipping|waiting)/],
  ['price_sensitive', /\b(expensive|discount|cheaper|coupon|sale|price)/],
  ['wants_to_buy_again', /\b(order again|next purchase|buy more|coming back|again soon)/],
  ['wants_to_cancel', /\b(cancel|unsubscribe|switching|never shop)/],
];

/**
 * A test provider whose vectors are constructed, not learned: deterministic, offline, and with known geometry,
 * so concept scores must move in the expected direction. `failOnCall` makes the n-th embed() call throw (crash).
 */
export class KeywordProvider implements EmbeddingProvider {
  readonly dim = AXES.length + 2;
  calls = 0;
  texts = 0;
  constructor(
    readonly model = 'test-keywords',
    private readonly failOnCall?: number,
  ) {}
  async embed(texts: string[]): Promise<Float32Array[]> {
    this.calls++;
    if (this.failOnCall === this.calls) throw new Error(`planned provider crash on call ${this.calls}`);
    this.texts += texts.length;
    return texts.map((t) => {
      const s = t.toLowerCase();
      const v = new Float32Array(this.dim);
      AXES.forEach(([, re], i) => (v[i] = re.test(s) ? 1 : 0));
      v[AXES.length] = 0.2; // shared component: unrelated texts are not orthogonal
      v[AXES.length + 1] = ((s.length * 2654435761) % 1000) / 10_000; // tiny per-text variation
      return l2normalize(v);
    });
  }
}
