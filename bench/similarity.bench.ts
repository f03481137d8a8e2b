/**
 * Similar-customer benchmark on PostgreSQL + pgvector: N customers (default 100,000) with a 384-d profile
 * embedding and a 32-d behaviour vector each, written straight into a throw-away database (created and dropped
 * here). Vectors are clustered like real ones (topics / buying patterns; uniform random high-d data has no
 * neighbours worth the name and makes every index look bad). Regions are independent of the clusters: `r1` holds
 * 1% of customers, `r10` 10%, so filters cannot ride on cluster structure. The semantic and behaviour clusters are
 * independent of each other (the hard case for BLEND: its nearest are rarely nearest in either space alone).
 *
 * For each case, Q random query customers go through `similarCustomers` (the GraphQL resolver's code path); the
 * same k nearest are computed by an exact scan (same filter, same exclusions) in the same run: p50/p99 of both,
 * the ratio, recall@k, and how often the service answered from the index vs its exact fallback.
 *
 *   npx tsx bench/similarity.bench.ts [--customers 100000] [--queries 200] [--m 16] [--ef-construction 64]
 *     [--ef-search 100] [--ef-search-filtered 200] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--keep]
 *     [--name NAME] (name the new database: vg_<tag>_sim or vg_<tag>_sim_<suffix>; default vg_bench_sim_<random>)
 *     [--db NAME]   (reuse a database kept by --keep: no load, no index build; dropped at the end unless --keep)
 *     [--only TEXT] (only the cases whose name contains TEXT; several separated by |)
 */
import crypto from 'node:crypto';
import * as os from 'node:os';
import { Client } from 'pg';
import type { Prisma, PrismaClient } from '../src/generated/prisma/client';
import { openDb } from '../src/db/client';
import { FEATURE_SET } from '../src/features/features.definitions';
import { Rng } from '../src/lib/random';
import { BEHAVIOR_DIM, compactVectorLiteral } from '../src/similarity/behavior-vectors';
import { type SimilarityConfig, type SimilarityMode, similarCustomers } from '../src/similarity/similar-customers.service';
import { exactBlendSql, exactSql, type SimilarityFilter, type Space } from '../src/similarity/similarity.sql';
import { arg, argv } from './lib/args';

const N = Number(arg('customers', '100000'));
const Q = Number(arg('queries', '200'));
const M = Number(arg('m', '16'));
const EFC = Number(arg('ef-construction', '64'));
const EF = Number(arg('ef-search', '100'));
const EFF = Number(arg('ef-search-filtered', String(2 * EF)));
const ADMIN = arg('admin-url', 'postgresql://postgres@127.0.0.1:5432/postgres');
const K = 10;
const MODEL = 'bench-model';
const SEM_DIM = 384;

/** Clustered unit vectors: centroid + sigma·noise, cluster sizes skewed (popular topics are popular). */
function clustered(rng: Rng, dim: number, clusters: number, sigma: number) {
  const centres = Array.from({ length: clusters }, () => Float64Array.from({ length: dim }, () => rng.normal()));
  return (): Float64Array => {
    const c = centres[Math.floor(clusters * Math.pow(rng.next(), 1.5))]!;
    const v = new Float64Array(dim);
    let n = 0;
    for (let i = 0; i < dim; i++) {
      v[i] = c[i]! + sigma * rng.normal();
      n += v[i]! * v[i]!;
    }
    for (let i = 0; i < dim; i++) v[i]! /= Math.sqrt(n);
    return v;
  };
}

async function load(p: PrismaClient): Promise<void> {
  await p.$executeRaw`insert into customers (external_id, region)
    select 'b' || g, case abs(hashint4(g)) % 100 when 0 then 'r1' when 1 then 'r10' when 2 then 'r10' when 3 then 'r10' when 4 then 'r10'
      when 5 then 'r10' when 6 then 'r10' when 7 then 'r10' when 8 then 'r10' when 9 then 'r10' when 10 then 'r10' else 'other-' || (g % 7) end
    from generate_series(1, ${N}) g`;
  const rng = new Rng(42);
  const sem = clustered(rng, SEM_DIM, 300, 0.9);
  const beh = clustered(rng, BEHAVIOR_DIM, 60, 0.5);
  const batch = 1000;
  for (let lo = 1; lo <= N; lo += batch) {
    const ids = Array.from({ length: Math.min(batch, N - lo + 1) }, (_, i) => lo + i);
    const s = JSON.stringify(ids.map((id) => ({ id, v: compactVectorLiteral(sem()) })));
    const b = JSON.stringify(ids.map((id) => ({ id, v: compactVectorLiteral(beh()) })));
    await p.$executeRaw`insert into customer_profile_embeddings (customer_id, model, dim, embedding, comment_count, half_life_days)
      select r.id, ${MODEL}, ${SEM_DIM}, r.v::vector, 3, 90 from jsonb_to_recordset(${s}::jsonb) as r(id int, v text)`;
    await p.$executeRaw`insert into customer_behavior_vectors (customer_id, feature_set, dim, embedding)
      select r.id, ${FEATURE_SET}, ${BEHAVIOR_DIM}, r.v::vector from jsonb_to_recordset(${b}::jsonb) as r(id int, v text)`;
  }
}

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

interface Case {
  name: string;
  by: SimilarityMode;
  filter: SimilarityFilter | null;
  cfg?: Partial<SimilarityConfig>;
  /** BLEND semantic weight (default 0.5) */
  w?: number;
}

async function runCase(p: PrismaClient, cfg: SimilarityConfig, c: Case, queries: number[]): Promise<void> {
  const sem: Space = { kind: 'semantic', key: MODEL, dim: SEM_DIM };
  const beh: Space = { kind: 'behavior', key: FEATURE_SET, dim: BEHAVIOR_DIM };
  const conf = { ...cfg, ...c.cfg };
  const w = c.w ?? 0.5;
  const tAnn: number[] = [];
  const tExact: number[] = [];
  let recall = 0;
  let distRecall = 0;
  const strategies: Record<string, number> = {};
  for (const id of queries) {
    let t = performance.now();
    const r = await similarCustomers(p, conf, { customerId: id, k: K, by: c.by, filter: c.filter, semanticWeight: w });
    tAnn.push(performance.now() - t);
    strategies[r.strategy] = (strategies[r.strategy] ?? 0) + 1;
    const vec = async (s: Space) =>
      (await p.$queryRawUnsafe<{ v: string }[]>(`select embedding::text as v from ${s.kind === 'semantic' ? 'customer_profile_embeddings' : 'customer_behavior_vectors'} where customer_id = $1`, id))[0]!.v
        .slice(1, -1).split(',').map(Number);
    const qs = c.by === 'BEHAVIOR' ? null : await vec(sem);
    const qb = c.by === 'SEMANTIC' ? null : await vec(beh);
    const sql: Prisma.Sql =
      c.by === 'BLEND' ? exactBlendSql(sem, qs!, beh, qb!, w, K, [id], c.filter) : exactSql(c.by === 'SEMANTIC' ? sem : beh, (qs ?? qb)!, K, [id], c.filter);
    t = performance.now();
    const truth = await p.$queryRaw<{ customer_id: number; distance?: number; semantic?: number; behavior?: number }[]>(sql);
    tExact.push(performance.now() - t);
    const want = new Set(truth.map((x) => Number(x.customer_id)));
    recall += r.hits.filter((h) => want.has(h.customerId)).length / Math.max(1, want.size);
    // ann-benchmarks' k-NN recall: a hit counts when it is no farther than the true k-th neighbour (+1e-3 relative),
    // so exchanging near-equidistant neighbours (float32 index vs float8 truth) is not counted as a miss.
    const tdist = truth.map((x) => (c.by === 'BLEND' ? w * Number(x.semantic) + (1 - w) * Number(x.behavior) : Number(x.distance)));
    const kth = tdist.length ? Math.max(...tdist) : 0;
    if (tdist.every(Number.isFinite)) distRecall += r.hits.filter((h) => h.distance <= kth * (1 + 1e-3) + 1e-6).length / Math.max(1, truth.length);
  }
  const [a50, a99, e50, e99] = [pct(tAnn, 0.5), pct(tAnn, 0.99), pct(tExact, 0.5), pct(tExact, 0.99)];
  console.log(
    `| ${c.name} | ${a50.toFixed(1)} | ${a99.toFixed(1)} | ${(recall / queries.length).toFixed(3)} | ${(distRecall / queries.length).toFixed(3)} | ${e50.toFixed(1)} | ${e99.toFixed(1)} | ${(e50 / a50).toFixed(1)}× | ${Object.entries(strategies).map(([k, v]) => `${k} ${v}`).join(', ')} |`,
  );
}

async function main(): Promise<void> {
  const reuse = arg('db', '');
  const name = reuse || arg('name', `vg_bench_sim_${crypto.randomBytes(4).toString('hex')}`);
  // Only throw-away benchmark databases: vg_bench_sim_* or a helper's own vg_<tag>_sim_*.
  if (!/^vg_(bench_sim_[0-9a-z_]+|[a-z0-9]+_sim(_[0-9a-z_]+)?)$/.test(name)) throw new Error(`--db/--name must name a vg_bench_sim_* or vg_<tag>_sim_* database`);
  const admin = new Client({ connectionString: ADMIN });
  await admin.connect();
  if (!reuse) await admin.query(`create database ${name}`);
  const url = new URL(ADMIN);
  url.pathname = `/${name}`;
  const db = await openDb({ databaseUrl: url.toString(), poolSize: 2 });
  try {
    const p = db.prisma;
    console.log(`cores ${os.cpus().length}, load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}; ${N} customers × (${SEM_DIM}-d profile + ${BEHAVIOR_DIM}-d behaviour)`);
    if (!reuse) {
      await db.migrate();
      await build(p);
    }
    await measure(p);
  } finally {
    await db.close();
    if (!argv.includes('--keep')) await admin.query(`drop database if exists ${name}`);
    else console.log(`kept database ${name}`);
    await admin.end();
  }
}

async function build(p: PrismaClient): Promise<void> {
  let t0 = performance.now();
  // Bulk load without the indexes, then build them once: inserting into a live HNSW graph is several times slower.
  await p.$executeRawUnsafe('drop index if exists customer_profile_embeddings_hnsw_384');
  await p.$executeRawUnsafe(`drop index if exists customer_behavior_vectors_hnsw_${BEHAVIOR_DIM}`);
  await p.$executeRawUnsafe(`drop index if exists customer_blend_vectors_hnsw_${SEM_DIM + BEHAVIOR_DIM}`);
  await load(p);
  console.log(`load ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  t0 = performance.now();
  await p.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(`set local maintenance_work_mem = '1GB'`);
    await tx.$executeRawUnsafe(`set local max_parallel_maintenance_workers = 2`);
    await tx.$executeRawUnsafe(
      `create index customer_profile_embeddings_hnsw_384 on customer_profile_embeddings using hnsw ((embedding::vector(384)) vector_cosine_ops) with (m = ${M}, ef_construction = ${EFC}) where dim = 384`,
    );
    await tx.$executeRawUnsafe(
      `create index customer_behavior_vectors_hnsw_${BEHAVIOR_DIM} on customer_behavior_vectors using hnsw ((embedding::vector(${BEHAVIOR_DIM})) vector_cosine_ops) with (m = ${M}, ef_construction = ${EFC}) where dim = ${BEHAVIOR_DIM}`,
    );
    await tx.$executeRawUnsafe(
      `create index customer_blend_vectors_hnsw_${SEM_DIM + BEHAVIOR_DIM} on customer_blend_vectors using hnsw ((embedding::vector(${SEM_DIM + BEHAVIOR_DIM})) vector_ip_ops) with (m = ${M}, ef_construction = ${EFC}) where dim = ${SEM_DIM + BEHAVIOR_DIM}`,
    );
  }, { timeout: 3_600_000, maxWait: 60_000 });
  console.log(`HNSW build (m ${M}, ef_construction ${EFC}) ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await p.$executeRawUnsafe('vacuum analyze customers');
  await p.$executeRawUnsafe('vacuum analyze customer_profile_embeddings');
  await p.$executeRawUnsafe('vacuum analyze customer_behavior_vectors');
  await p.$executeRawUnsafe('vacuum analyze customer_blend_vectors');
}

async function measure(p: PrismaClient): Promise<void> {
  const rng = new Rng(7);
  const queries = Array.from({ length: Q }, () => 1 + rng.int(N));
  const cfg: SimilarityConfig = { semantic: { model: MODEL, dim: SEM_DIM }, efSearch: EF, efSearchFiltered: EFF };
  // Warm the caches (shared buffers, Prisma's query plans) so the first case is not charged for them.
  for (const id of queries.slice(0, 20)) await similarCustomers(p, cfg, { customerId: id, k: K, by: 'SEMANTIC' });
  console.log(`\nk = ${K}, ${Q} queries, ef_search ${EF} (filtered ${EFF}); times in ms\n`);
  console.log('| case | p50 | p99 | recall@10 | recall@10 by distance (ε 1e-3) | exact p50 | exact p99 | exact/ANN p50 | strategy |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const cases: Case[] = [
    { name: 'SEMANTIC', by: 'SEMANTIC', filter: null },
    { name: 'SEMANTIC, region 10%', by: 'SEMANTIC', filter: { region: ['r10'] } },
    ...[100, 400].map((ef): Case => ({ name: `SEMANTIC, region 10%, filtered ef_search ${ef}`, by: 'SEMANTIC', filter: { region: ['r10'] }, cfg: { efSearchFiltered: ef } })),
    { name: 'SEMANTIC, region 1%', by: 'SEMANTIC', filter: { region: ['r1'] } },
    { name: 'SEMANTIC, region 1%, HNSW forced', by: 'SEMANTIC', filter: { region: ['r1'] }, cfg: { exactBelow: 0 } },
    { name: 'BEHAVIOR', by: 'BEHAVIOR', filter: null },
    { name: 'BEHAVIOR, region 10%', by: 'BEHAVIOR', filter: { region: ['r10'] } },
    { name: 'BLEND (w 0.5)', by: 'BLEND', filter: null },
    { name: 'BLEND, region 10%', by: 'BLEND', filter: { region: ['r10'] } },
    { name: 'BLEND, region 1%', by: 'BLEND', filter: { region: ['r1'] } },
    ...[0, 50].map((n): Case => ({ name: `BLEND, region 10%, ${n} profile candidates`, by: 'BLEND', filter: { region: ['r10'] }, cfg: { blendCandidatesFiltered: n } })),
    // The blend index alone (before issue 6's pooling): recall stops near 0.9 whatever the beam.
    ...[100, 400].map((ef): Case => ({ name: `BLEND, blend index alone, ef_search ${ef}`, by: 'BLEND', filter: null, cfg: { blendCandidates: 0, efSearch: ef } })),
    ...[100, 300].map((n): Case => ({ name: `BLEND, ${n} profile candidates`, by: 'BLEND', filter: null, cfg: { blendCandidates: n } })),
    ...[40, 100].map((ef): Case => ({ name: `BLEND, pooled ef_search ${ef}`, by: 'BLEND', filter: null, cfg: { blendEfSearch: ef } })),
    ...[0.3, 0.7].map((w): Case => ({ name: `BLEND (w ${w})`, by: 'BLEND', filter: null, w })),
    ...[0.3, 0.7].map((w): Case => ({ name: `BLEND (w ${w}), region 10%`, by: 'BLEND', filter: { region: ['r10'] }, w })),
    { name: 'BLEND (w 0.7), blend index alone', by: 'BLEND', filter: null, w: 0.7, cfg: { blendCandidates: 0 } },
    ...[40, 64, 200].map((ef): Case => ({ name: `SEMANTIC, ef_search ${ef}`, by: 'SEMANTIC', filter: null, cfg: { efSearch: ef } })),
  ];
  const only = arg('only', '').split('|').filter(Boolean);
  for (const c of cases) if (!only.length || only.some((o) => c.name.includes(o))) await runCase(p, cfg, c, queries);
  console.log(`\nload after: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
