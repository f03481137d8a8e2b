/**
 * Small seeded PRNGs. Math.random cannot be seeded, and determinism (same seed →
 * byte-identical artifact) is a requirement, so every random draw goes through here.
 */

/** mulberry32: 32-bit state, passes gjrand/PractRand to 2^32 outputs; plenty for bagging. */
export class Mulberry32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform uint32. */
  nextU32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * Uniform integer in [0, n). Scaling (not modulo) keeps the bias at n / 2^32, which is
   * negligible for row and feature counts, and avoids a rejection loop in the hot path.
   */
  below(n: number): number {
    return Math.floor((this.nextU32() / 4294967296) * n);
  }
}

/** splitmix32-style finaliser: decorrelates consecutive integers into independent-looking seeds. */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Seed of tree i depends only on (forestSeed, i), not on the tree count, so a forest
 * trained as chunks in several processes equals the one trained in a single call.
 */
export function treeSeeds(forestSeed: number, nTrees: number, firstTree = 0): Uint32Array {
  const out = new Uint32Array(nTrees);
  const base = mix32(forestSeed | 0);
  for (let i = 0; i < nTrees; i++) out[i] = mix32((base ^ mix32(firstTree + i)) >>> 0);
  return out;
}
