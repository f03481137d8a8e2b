/** @jest-environment ./test/unit/embeddings-jest-env.cjs */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeTinyModel } from '../../scripts/make-tiny-model';
import type { EmbeddingConfig } from '../../src/embeddings/embedding.types';
import { embeddingStatus, getProvider } from '../../src/embeddings/provider.factory';
import { TransformersProvider } from '../../src/embeddings/transformers.provider';

const dir = path.join(__dirname, '..', '.tmp', `tiny-${crypto.randomBytes(4).toString('hex')}`);
const cfg = (o: Partial<EmbeddingConfig> = {}): EmbeddingConfig => ({
  provider: 'transformers',
  model: dir,
  dim: 32,
  allowRemote: false,
  quantized: true,
  threads: 1,
  batchSize: 2,
  openaiTimeoutMs: 1000,
  openaiMaxBatch: 8,
  ...o,
});
const norm = (v: Float32Array) => Math.hypot(...v);
const maxDiff = (a: Float32Array, b: Float32Array) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

const TEXTS = [
  'The delivery was late and the package arrived damaged, I want a refund.',
  'great',
  'Love it!',
  'Very good quality for the price, I will buy again next month.',
  '',
  'ok',
  'Terrible service. Never again. The support never answered my emails about the broken item.',
];

describe('transformers.js provider on a generated tiny BERT (offline)', () => {
  let p: TransformersProvider;
  beforeAll(async () => {
    makeTinyModel(dir);
    p = await TransformersProvider.load(cfg());
  }, 60_000);
  afterAll(async () => {
    await p?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('returns unit vectors of the configured dimension, one per text', async () => {
    const vs = await p.embed(TEXTS);
    expect(vs).toHaveLength(TEXTS.length);
    for (const v of vs) {
      expect(v).toHaveLength(32);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
    expect(p.model).toBe(dir);
    expect(p.maxTokens).toBe(128); // default 256, capped by the tiny tokenizer's model_max_length
  });

  it('gives identical vectors for identical texts, in one batch and across calls', async () => {
    const [a, b] = await p.embed(['same words here', 'same words here']);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    const [c] = await p.embed(['same words here']);
    expect(maxDiff(a!, c!)).toBeLessThan(1e-5);
  });

  it('returns results in input order although it batches by length', async () => {
    const together = await p.embed(TEXTS);
    for (let i = 0; i < TEXTS.length; i++) {
      const [alone] = await p.embed([TEXTS[i]!]);
      // Padding in a shared batch changes float rounding only.
      expect(maxDiff(together[i]!, alone!)).toBeLessThan(1e-4);
    }
    // Different texts really differ, so the check above would catch a permutation.
    expect(maxDiff(together[0]!, together[6]!)).toBeGreaterThan(1e-3);
  });

  it('truncates texts longer than the token limit', async () => {
    const short = await TransformersProvider.load(cfg({ maxTokens: 16 }));
    expect(short.maxTokens).toBe(16);
    const head = 'the order arrived late and the box was damaged again and again and again';
    const [a, b] = await short.embed([`${head} but support was great`, `${head} and I want a refund now`]);
    expect(maxDiff(a!, b!)).toBe(0);
    const [c, d] = await p.embed([`${head} but support was great`, `${head} and I want a refund now`]);
    expect(maxDiff(c!, d!)).toBeGreaterThan(1e-4);
    await short.close();
  });

  it('loads the fp32 model too and stores its vectors under another name', async () => {
    const fp32 = await TransformersProvider.load(cfg({ quantized: false }));
    expect(fp32.model).toBe(`${dir}:fp32`);
    const [v] = await fp32.embed(['hello']);
    expect(norm(v!)).toBeCloseTo(1, 5);
    await fp32.close();
  });

  it('reports an unloadable model instead of substituting anything', async () => {
    const missing = await embeddingStatus(cfg({ model: path.join(dir, 'nope') }));
    expect(missing).toMatchObject({ available: false, provider: 'transformers' });
    expect(missing.reason).toMatch(/no model directory/);
    const offline = await embeddingStatus(cfg({ model: 'Xenova/all-MiniLM-L6-v2', dim: 384, cacheDir: path.join(dir, 'empty-cache') }));
    expect(offline.available).toBe(false);
    expect(offline.reason).toMatch(/remote downloads are off/);
    const wrongDim = await embeddingStatus(cfg({ dim: 384 }));
    expect(wrongDim.available).toBe(false);
    expect(wrongDim.reason).toMatch(/32-dimensional.*384/);
    await expect(getProvider(cfg({ provider: 'none' }))).rejects.toThrow(/EMBEDDING_PROVIDER is none/);
  });
});
