import fs from 'node:fs';
import path from 'node:path';
import { FEATURE_NAMES, MISSING } from '../../src/features/features.definitions';
import {
  BEHAVIOR_DIM, BEHAVIOR_FEATURES, BIAS, behaviorVector, centroid, CLIP, compactVectorLiteral, matchesSpec, StatsAccumulator, transformed,
} from '../../src/similarity/behavior-vectors';
import {
  annSql, blendQuery, blendSql, exactSql, filteredIds, hasFilter, hnswGate, notIn, pooledBlendSql, semanticCandidates,
} from '../../src/similarity/similarity.sql';

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
const cos = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0) / (norm(a) * norm(b));

function customer(over: Record<string, number> = {}): Record<string, number> {
  const v: Record<string, number> = {};
  for (const n of FEATURE_NAMES) v[n] = 1;
  return { ...v, ...over };
}

describe('behaviour vectors', () => {
  it('uses existing features only, leaves region_code out, and matches the migration index dimension', () => {
    for (const f of BEHAVIOR_FEATURES) expect(FEATURE_NAMES).toContain(f.name);
    expect(BEHAVIOR_FEATURES.map((f) => f.name)).not.toContain('region_code');
    expect(BEHAVIOR_DIM).toBe(BEHAVIOR_FEATURES.length + 1);
    const sql = fs.readFileSync(path.join(__dirname, '../../prisma/migrations/0004_behavior_vectors/migration.sql'), 'utf8');
    expect(sql).toContain(`customer_behavior_vectors_hnsw_${BEHAVIOR_DIM} ON customer_behavior_vectors USING hnsw ((embedding::vector(${BEHAVIOR_DIM}))`);
    expect(sql).toContain(`WHERE dim = ${BEHAVIOR_DIM};`);
  });

  it('signed log1p for money and counts, MISSING only where it means undefined', () => {
    const money = BEHAVIOR_FEATURES.find((f) => f.name === 'net_spend')!;
    expect(transformed(money, 1000)).toBeCloseTo(Math.log1p(1000), 12);
    expect(transformed(money, -1000)).toBeCloseTo(-Math.log1p(1000), 12);
    // net_spend of -1 is a real value (a refund), not "undefined".
    expect(transformed(money, MISSING)).toBeCloseTo(-Math.log(2), 12);
    const recency = BEHAVIOR_FEATURES.find((f) => f.name === 'recency_days')!;
    expect(transformed(recency, MISSING)).toBeNull();
    expect(transformed(recency, undefined)).toBeNull();
    expect(transformed(recency, 'x')).toBeNull();
    const share = BEHAVIOR_FEATURES.find((f) => f.name === 'refund_share')!;
    expect(transformed(share, 0.25)).toBe(0.25);
  });

  it('standardizes with population stats, skipping missing values, constant features get std 1', () => {
    const acc = new StatsAccumulator();
    const spends = [10, 100, 1000];
    for (const s of spends) acc.add(customer({ monetary_total: s, recency_days: s === 1000 ? MISSING : 5 }));
    const st = acc.result();
    expect(st.customerCount).toBe(3);
    const mt = st.features.find((f) => f.name === 'monetary_total')!;
    const logs = spends.map((s) => Math.log1p(s));
    const mean = logs.reduce((a, b) => a + b) / 3;
    expect(mt.mean).toBeCloseTo(mean, 12);
    expect(mt.std).toBeCloseTo(Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / 2), 12);
    const rec = st.features.find((f) => f.name === 'recency_days')!;
    expect(rec.mean).toBeCloseTo(Math.log1p(5), 12);
    expect(rec.std).toBe(1);
    expect(matchesSpec(st)).toBe(true);
    expect(matchesSpec({ features: st.features.slice(1) })).toBe(false);
  });

  it('is unit length with the bias last, clips whales, and puts the average customer on the bias axis', () => {
    const acc = new StatsAccumulator();
    for (let i = 0; i < 200; i++) acc.add(customer({ monetary_total: 50 + i, orders: 1 + (i % 5) }));
    const st = acc.result();
    const whale = behaviorVector(customer({ monetary_total: 1e9, orders: 3 }), st);
    expect(whale).toHaveLength(BEHAVIOR_DIM);
    expect(norm(whale)).toBeCloseTo(1, 9);
    const i = BEHAVIOR_FEATURES.findIndex((f) => f.name === 'monetary_total');
    // z clipped to CLIP: relative to the bias, the whale's spend component is exactly CLIP.
    expect(whale[i]! / whale[BEHAVIOR_DIM - 1]!).toBeCloseTo(CLIP / BIAS, 9);
    const mean: Record<string, number> = {};
    for (const f of st.features) mean[f.name] = f.transform === 'log' ? Math.expm1(f.mean) : f.mean;
    const avg = behaviorVector(mean, st);
    expect(avg[BEHAVIOR_DIM - 1]).toBeCloseTo(1, 6);
    // Magnitude matters: slightly above average is nearer the average than far above, in the same direction.
    const slightly = behaviorVector(customer({ monetary_total: 160, orders: 3 }), st);
    const far = behaviorVector(customer({ monetary_total: 5000, orders: 3 }), st);
    expect(cos(slightly, avg)).toBeGreaterThan(cos(far, avg));
  });

  it('centroid of unit vectors is normalised and weighs seeds equally whatever their length', () => {
    const c = centroid([[2, 0], [0, 10]]);
    expect(c[0]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(c[1]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(() => centroid([[1, 0], [-1, 0]])).toThrow(/cancel/);
    expect(() => centroid([])).toThrow();
  });

  it('vector literals keep float4 precision and nothing more', () => {
    expect(compactVectorLiteral([1 / 3, -2, 1e-9])).toBe('[0.3333333,-2,1e-9]');
  });
});

describe('similarity SQL', () => {
  it('binds filter values as one JSON parameter per field and joins champion scores only when needed', () => {
    const region = filteredIds({ region: ['north', "o'hara"] });
    expect(region.sql).not.toContain('scores');
    expect(region.values).toEqual(['north', "o'hara"]);
    expect(region.sql).not.toContain('north');
    const tier = filteredIds({ tier: ['top_1'], segment: ['champions'] });
    expect(tier.sql).toContain('join scores s');
    expect(tier.sql).toContain('model_champions');
    expect(tier.values).toEqual(['top_1', 'champions']);
    expect(() => filteredIds({ region: Array.from({ length: 101 }, (_, i) => `r${i}`) })).toThrow(/at most 100/);
    expect(hasFilter({ region: [] })).toBe(false);
    expect(hasFilter(null)).toBe(false);
    expect(hasFilter({ segment: ['lost'] })).toBe(true);
  });

  it('BLEND query: the inner product with [profile ; behaviour] is 1 − the blended cosine distance', () => {
    const qs = [0.6, 0.8];
    const qb = [1, 0, 0];
    const s = [0.8, 0.6];
    const b = [0, 1, 0];
    const w = 0.3;
    const q = blendQuery(qs, qb, w);
    const ip = [...s, ...b].reduce((acc, x, i) => acc + x * q[i]!, 0);
    const blended = w * (1 - cos(qs, s)) + (1 - w) * (1 - cos(qb, b));
    expect(1 - ip).toBeCloseTo(blended, 12);
  });

  it('exact scans order by an expression the HNSW index cannot serve, and exclude the query customers', () => {
    const q = exactSql({ kind: 'behavior', key: 'behaviour-v1', dim: 3 }, [1, 0, 0], 5, [7], { region: ['x'] });
    expect(q.sql).toMatch(/order by \(embedding|order by \(v\.embedding::vector\(3\) <=> .*\) \+ 0/);
    expect(q.sql).toContain('customer_behavior_vectors v');
    expect(notIn('v', [7]).values).toEqual([7]);
    expect(notIn('v', [1, 2]).values).toEqual([JSON.stringify([1, 2])]);
  });

  it('BLEND pools profile candidates by weight: none while behaviour dominates, max at w 0.5, heavyMax from w 0.75, at least k', () => {
    expect(semanticCandidates(0, 10, 200)).toBe(0);
    expect(semanticCandidates(0.25, 10, 200)).toBe(0);
    expect(semanticCandidates(0.375, 10, 200)).toBe(100);
    expect(semanticCandidates(0.5, 10, 200)).toBe(200);
    expect(semanticCandidates(1, 10, 200)).toBe(200);
    expect(semanticCandidates(0.3, 100, 200)).toBe(100);
    expect(semanticCandidates(0.5, 500, 200)).toBe(500);
    expect(semanticCandidates(0.5, 10, 0)).toBe(0);
    // Past w 0.5 a (filtered) pool grows on to heavyMax at w 0.75.
    expect(semanticCandidates(0.5, 10, 25, 50)).toBe(25);
    expect(semanticCandidates(0.7, 10, 25, 50)).toBe(45);
    expect(semanticCandidates(0.9, 10, 25, 50)).toBe(50);
    expect(semanticCandidates(0.7, 10, 200)).toBe(200);
  });

  it('pooled BLEND: blend index and profile index candidates in one statement, each scan with its own beam, filter in both scans', () => {
    const sem = { kind: 'semantic' as const, key: 'm', dim: 2 };
    const beh = { kind: 'behavior' as const, key: 'f', dim: 3 };
    const pool = { candidates: 200, blend: { ef: 40, iterative: 'relaxed_order' as const }, profile: { ef: 200, iterative: 'relaxed_order' as const } };
    const pooled = pooledBlendSql(sem, [0.6, 0.8], beh, [1, 0, 0], 0.5, 10, [7], { region: ['x'] }, pool);
    expect(pooled.sql).toContain('customer_profile_embeddings p');
    expect(pooled.sql).toContain('join customer_behavior_vectors b on b.customer_id = np.customer_id');
    // The big blend rows are read only by the blend index scan, never looked up by key for the re-rank.
    expect(pooled.sql.match(/customer_blend_vectors/g)).toHaveLength(1);
    expect(pooled.sql.match(/cu\.region in/g)).toHaveLength(2);
    expect(pooled.sql.match(/set_config\('hnsw\.ef_search'/g)).toHaveLength(2);
    expect(pooled.values).toEqual(expect.arrayContaining(['40', '200', 'relaxed_order', 200]));
    const alone = blendSql(sem, [0.6, 0.8], beh, [1, 0, 0], 0.5, 10, [7], null, { ef: 100, iterative: 'strict_order' });
    expect(alone.sql).toContain('set_config');
    expect(alone.values).toEqual(expect.arrayContaining(['100', 'strict_order']));
    const exact = blendSql(sem, [0.6, 0.8], beh, [1, 0, 0], 0.5, 10, [7], null, null);
    expect(exact.sql).not.toContain('set_config');
    expect(exact.sql).toMatch(/\) \+ 0, v\.customer_id/);
  });

  it('the HNSW settings travel as bind parameters inside the statement, the beam clamped to 1..1000', () => {
    expect(hnswGate({ ef: 5000, iterative: 'strict_order' }).values).toEqual(['1000', 'strict_order']);
    expect(hnswGate({ ef: 0.2, iterative: 'relaxed_order' }).values).toEqual(['1', 'relaxed_order']);
    const ann = annSql({ kind: 'semantic', key: 'm', dim: 2 }, [1, 0], 10, [7], null, { ef: 64, iterative: 'strict_order' });
    expect(ann.sql).toMatch(/where \(select set_config\('hnsw\.ef_search', \?, true\) \|\| set_config\('hnsw\.iterative_scan', \?, true\)\) is not null and/);
    expect(ann.values).toEqual(expect.arrayContaining(['64', 'strict_order']));
  });
});
