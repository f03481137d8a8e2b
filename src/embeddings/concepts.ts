import fs from 'node:fs';
import { z } from 'zod';
import { DomainError } from '../lib/errors';
import type { EmbeddingProvider } from './embedding.types';
import { weightedMean } from './vector-math';

/** Concept name → a few example phrases; the prototype is the normalised mean of their embeddings. */
export type Concepts = Record<string, string[]>;

export const DEFAULT_CONCEPTS: Concepts = {
  satisfied: ['I am very happy with my purchase', 'great quality, exactly as described', 'excellent service, thank you', 'love it, works perfectly'],
  complaint: ['this is unacceptable, I am very angry', 'terrible experience, worst shop ever', 'I want to file a complaint', 'the product broke after one day'],
  delivery_problem: ['my package arrived late', 'the delivery never came', 'the parcel was damaged in shipping', 'still waiting for my order after two weeks'],
  price_sensitive: ['too expensive for what it is', 'I only buy when there is a discount', 'found it cheaper elsewhere', 'is there a coupon or sale soon'],
  wants_to_buy_again: ['I will definitely order again', 'already planning my next purchase', 'will buy more of these', 'my favourite shop, coming back soon'],
  wants_to_cancel: ['please cancel my account', 'I will never shop here again', 'unsubscribe me and delete my data', 'I am switching to another store'],
};

const conceptsSchema = z
  .record(z.string().regex(/^[a-z][a-z0-9_]{0,40}$/, 'concept names are lower_snake_case'), z.array(z.string().min(1)).min(1).max(50))
  .refine((c) => Object.keys(c).length > 0 && Object.keys(c).length <= 50, 'between 1 and 50 concepts');

/** The built-in set, or the JSON file named by CONCEPTS_FILE ({ "name": ["phrase", ...] }). */
export function loadConcepts(file?: string): Concepts {
  if (!file) return DEFAULT_CONCEPTS;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DomainError('BAD_USER_INPUT', `cannot read concepts file ${file}: ${(err as Error).message}`);
  }
  const r = conceptsSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => ({ field: i.path.join('.') || 'concepts', message: i.message }));
    throw new DomainError('BAD_USER_INPUT', `invalid concepts file ${file}`, { issues });
  }
  return r.data;
}

const cache = new Map<string, Promise<Map<string, Float32Array>>>();

/** Prototype vector per concept for this provider's model; computed once per process and concept set. */
export function conceptPrototypes(provider: EmbeddingProvider, concepts: Concepts): Promise<Map<string, Float32Array>> {
  const key = JSON.stringify([provider.model, provider.dim, concepts]);
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      const names = Object.keys(concepts).sort();
      const phrases = names.flatMap((n) => concepts[n]!);
      const vecs = await provider.embed(phrases);
      const out = new Map<string, Float32Array>();
      let at = 0;
      for (const n of names) {
        const list = vecs.slice(at, (at += concepts[n]!.length));
        out.set(n, weightedMean(list, list.map(() => 1), provider.dim));
      }
      return out;
    })();
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}
