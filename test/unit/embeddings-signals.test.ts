import { DEFAULT_CONCEPTS, conceptPrototypes, loadConcepts } from '../../src/embeddings/concepts';
import { profileOf } from '../../src/embeddings/embed.service';
import { lexiconSentiment } from '../../src/embeddings/lexicon-sentiment';
import { fitPca, projectPca } from '../../src/embeddings/pca';
import { recencyWeights } from '../../src/embeddings/profile';
import { dot, embedSortedBatches, meanPool } from '../../src/embeddings/vector-math';
import { Rng } from '../../src/lib/random';
import { KeywordProvider } from './embeddings-fake-provider';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const day = (n: number) => new Date(Date.UTC(2024, 0, 1) + n * 86_400_000);

describe('lexicon sentiment', () => {
  it('scores positive, negative and neutral text', () => {
    expect(lexiconSentiment('Great product, I love it!')).toBeGreaterThan(0.5);
    expect(lexiconSentiment('Terrible. The item arrived broken and late.')).toBeLessThan(-0.5);
    expect(lexiconSentiment('I ordered a blue shirt on Monday.')).toBe(0);
  });
  it('handles negation and its end at clause punctuation', () => {
    expect(lexiconSentiment('not good')).toBeLessThan(0);
    expect(lexiconSentiment("wasn't bad at all")).toBeGreaterThan(0);
    expect(lexiconSentiment('not fast, but great support')).toBeGreaterThan(lexiconSentiment('not fast but great support'));
  });
  it('intensifiers strengthen the next word', () => {
    expect(lexiconSentiment('very good')).toBeGreaterThan(lexiconSentiment('good'));
  });
});

describe('profile vector', () => {
  it('halves a comment weight every half-life before the newest comment', () => {
    const w = recencyWeights([day(0), day(30), day(60)], 30);
    expect(w).toEqual([0.25, 0.5, 1]);
  });
  it('leans towards recent comments and has unit norm', () => {
    const old = { createdAt: day(0), vector: [1, 0] };
    const recent = { createdAt: day(365), vector: [0, 1] };
    const p = profileOf([old, recent], 2, 90);
    expect(p[1]!).toBeGreaterThan(p[0]! * 10);
    expect(Math.hypot(...p)).toBeCloseTo(1, 6);
    const slow = profileOf([old, recent], 2, 10_000);
    expect(slow[0]!).toBeCloseTo(slow[1]!, 1);
  });
});

describe('concept prototypes', () => {
  it('move concept scores in the expected direction', async () => {
    const provider = new KeywordProvider();
    const protos = await conceptPrototypes(provider, DEFAULT_CONCEPTS);
    expect([...protos.keys()].sort()).toEqual(Object.keys(DEFAULT_CONCEPTS).sort());
    const score = async (text: string, concept: string) => dot((await provider.embed([text]))[0]!, protos.get(concept)!);
    expect(await score('my parcel is late, still waiting', 'delivery_problem')).toBeGreaterThan(await score('love it, thank you', 'delivery_problem'));
    expect(await score('this is terrible, I am angry', 'complaint')).toBeGreaterThan(await score('this is terrible, I am angry', 'satisfied'));
    expect(await score('please cancel my account', 'wants_to_cancel')).toBeGreaterThan(await score('I will order again soon', 'wants_to_cancel'));
  });
  it('loads a concepts file and reports bad ones by field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-concepts-'));
    const good = path.join(dir, 'c.json');
    fs.writeFileSync(good, JSON.stringify({ gift_buyer: ['a present for my wife'] }));
    expect(loadConcepts(good)).toEqual({ gift_buyer: ['a present for my wife'] });
    const bad = path.join(dir, 'b.json');
    fs.writeFileSync(bad, JSON.stringify({ 'Bad Name': ['x'], ok: [] }));
    expect(() => loadConcepts(bad)).toThrow(/invalid concepts file/);
    expect(loadConcepts(undefined)).toBe(DEFAULT_CONCEPTS);
  });
});

describe('PCA', () => {
  it('recovers the main axes of a known distribution and projects consistently', () => {
    const rng = new Rng(3);
    const d = 6;
    const vs = Array.from({ length: 500 }, () => {
      const v = Array.from({ length: d }, () => rng.normal() * 0.1);
      v[2]! += rng.normal() * 3; // largest variance along axis 2
      v[4]! += rng.normal() * 1.5; // then axis 4
      return v.map((x) => x + 5);
    });
    const m = fitPca(vs, 2);
    expect(m.components).toHaveLength(2);
    expect(Math.abs(m.components[0]![2]!)).toBeGreaterThan(0.99);
    expect(Math.abs(m.components[1]![4]!)).toBeGreaterThan(0.99);
    expect(m.explainedVariance[0]!).toBeGreaterThan(m.explainedVariance[1]!);
    expect(projectPca(m, m.mean)).toEqual([0, 0]);
    const p = projectPca(m, vs[0]!);
    expect(p[0]!).toBeCloseTo((vs[0]![2]! - m.mean[2]!) * m.components[0]![2]!, 1);
    expect(fitPca(vs, 2)).toEqual(m); // deterministic
    expect(() => projectPca(m, [1, 2])).toThrow(/PCA expects 6/);
  });
});

describe('vector helpers', () => {
  it('mean-pools only unmasked tokens and normalises', () => {
    // batch 1, tokens 3, dim 2; the padded 3rd token must not count
    const [v] = meanPool(Float32Array.from([1, 0, 0, 1, 100, 100]), [1, 1, 0], 1, 3, 2);
    expect(v![0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(v![1]).toBeCloseTo(Math.SQRT1_2, 6);
  });
  it('sorts by length for batching but returns input order', async () => {
    const seen: string[][] = [];
    const out = await embedSortedBatches(['ccc', 'a', 'bb', 'dddd'], 2, async (b) => {
      seen.push(b);
      return b.map((t) => Float32Array.of(t.length));
    });
    expect(seen).toEqual([['a', 'bb'], ['ccc', 'dddd']]);
    expect(out.map((v) => v[0])).toEqual([3, 1, 2, 4]);
  });
});
