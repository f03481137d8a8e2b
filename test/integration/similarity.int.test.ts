import type { App } from '../../src/app';
import { createApiKey } from '../../src/auth/api-keys';
import { eraseCustomer } from '../../src/customers/erase.service';
import { embeddingConfigFromEnv, modelKey } from '../../src/embeddings/embedding.config';
import { DAY_MS, FEATURE_SET } from '../../src/features/features.definitions';
import { Prisma } from '../../src/generated/prisma/client';
import { buildHttpServer } from '../../src/graphql/server';
import { ingestCustomers, ingestTransactions } from '../../src/ingest/ingest.service';
import { waitForRun } from '../../src/jobs/wait';
import { Rng } from '../../src/lib/random';
import { BEHAVIOR_DIM, BEHAVIOR_FEATURES, behaviorVector, compactVectorLiteral } from '../../src/similarity/behavior-vectors';
import { loadStandardization } from '../../src/similarity/behavior-vectors.service';
import { lookalikes, type SimilarityConfig, similarCustomers } from '../../src/similarity/similar-customers.service';
import { annSql } from '../../src/similarity/similarity.sql';
import { gql, type Proc, spawnEntry } from '../helpers/processes';
import { backend, openTestApp, ownDatabase, testEnv, uid } from '../helpers/test-env';

jest.setTimeout(120_000);

const N = 500;
const SEM_DIM = 384;

const unit = (v: number[]) => {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
};
const cosDist = (a: number[], b: number[]) => 1 - a.reduce((s, x, i) => s + x * b[i]!, 0);

describe(`similar customers on ${backend}`, () => {
  let app: App;
  let worker: Proc | undefined;
  let cfg: SimilarityConfig;
  const tag = uid('sim');
  const common = `${tag}-common`;
  const rare = `${tag}-rare`;
  const ext = (i: number) => `${tag}-${i}`;
  const ids: number[] = [];
  const sem: number[][] = [];
  const beh: number[][] = [];

  let own: Awaited<ReturnType<typeof ownDatabase>> | undefined;

  beforeAll(async () => {
    // The synthetic vectors below have no feature snapshots: another file's full behaviour-vector refresh on a
    // shared database deleted them mid-test (a flaky CI run), so this file keeps its own.
    own = await ownDatabase('sim');
    app = await openTestApp(own.overrides);
    if (backend === 'postgres') {
      worker = spawnEntry('jobs/worker.ts', testEnv(own.overrides).raw);
      await worker.waitForLog(/bullmq worker started/);
    }
    const e = embeddingConfigFromEnv(app.env);
    cfg = { semantic: { model: modelKey(e), dim: SEM_DIM } };
  }, 120_000);

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await app?.close();
    await own?.drop();
  }, 60_000);

  const wait = (id: string) => waitForRun(app.db.prisma, id, { timeoutMs: 240_000 });
  const toIds = (r: { hits: { customerId: number }[] }) => r.hits.map((h) => h.customerId);

  it('features.refresh writes standardized behaviour vectors that group customers who buy alike', async () => {
    const p = app.db.prisma;
    const region = `${tag}-beh`;
    const group = (name: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}-${name}${i}`);
    const small = group('small', 8);
    const big = group('big', 8);
    const whale = `${tag}-whale`;
    await ingestCustomers(p, [...small, ...big, whale].map((externalId) => ({ externalId, region })));
    const now = Date.now();
    const txns: Record<string, unknown>[] = [];
    const buy = (c: string, daysAgo: number, amount: number) =>
      txns.push({ externalId: `${c}-${daysAgo}`, customerExternalId: c, occurredAt: new Date(now - daysAgo * DAY_MS).toISOString(), amount });
    small.forEach((c, i) => { for (let d = 5 + i; d < 360; d += 30) buy(c, d, 18 + i); });
    big.forEach((c, i) => { buy(c, 300 + i, 800 + 10 * i); buy(c, 40 + i, 900); });
    for (let d = 1; d < 360; d += 7) buy(whale, d, 50_000);
    await ingestTransactions(p, txns);

    const run = await app.queue.enqueue('features.refresh', { rescore: false });
    expect((await wait(run.id)).state).toBe('completed');
    // The ingest queued a (debounced) refresh of its own: let every run finish so none is half-way through.
    for (;;) {
      const [row] = await p.$queryRaw<{ open: number }[]>`select count(*)::int as open from job_runs where name = 'features.refresh' and finished_at is null`;
      if (!row?.open) break;
      await new Promise((r) => setTimeout(r, 250));
    }

    const stats = await loadStandardization(p);
    expect(stats?.dim).toBe(BEHAVIOR_DIM);
    expect(stats!.features.map((f) => f.name)).toEqual(BEHAVIOR_FEATURES.map((f) => f.name));
    const rows = await p.$queryRaw<{ external_id: string; dim: number; v: string; values: Record<string, number> }[]>`
      select c.external_id, b.dim, b.embedding::text as v, f.values
      from customers c join customer_behavior_vectors b on b.customer_id = c.id
      join feature_snapshots f on f.customer_id = c.id and f.feature_set = ${FEATURE_SET} and f.is_current
      where c.region = ${region}`;
    expect(rows).toHaveLength(17);
    for (const r of rows) {
      const stored = r.v.slice(1, -1).split(',').map(Number);
      expect(Number(r.dim)).toBe(BEHAVIOR_DIM);
      // The stored vector is exactly what the stored standardization gives for the stored snapshot.
      const expected = behaviorVector(typeof r.values === 'string' ? JSON.parse(r.values) : r.values, stats!);
      stored.forEach((x, i) => expect(x).toBeCloseTo(expected[i]!, 5));
    }
    const idOf = async (x: string) => (await p.customer.findUniqueOrThrow({ where: { externalId: x } })).id;
    const externalIds = async (r: { hits: { customerId: number }[] }) =>
      Promise.all(r.hits.map(async (h) => (await p.customer.findUniqueOrThrow({ where: { id: h.customerId } })).externalId));
    // A whale 50,000-per-order does not pull everyone together: each customer's 7 nearest are their own group.
    const nearSmall = await similarCustomers(p, cfg, { customerId: await idOf(small[0]!), k: 7, by: 'BEHAVIOR', filter: { region: [region] } });
    expect((await externalIds(nearSmall)).sort()).toEqual(small.slice(1).sort());
    const nearBig = await similarCustomers(p, cfg, { customerId: await idOf(big[3]!), k: 7, by: 'BEHAVIOR', filter: { region: [region] } });
    expect((await externalIds(nearBig)).sort()).toEqual(big.filter((_, i) => i !== 3).sort());
    expect(nearBig.hits.every((h) => h.semanticDistance === null && h.behaviorDistance === h.distance)).toBe(true);
  });

  describe('with synthetic profile and behaviour vectors', () => {
    beforeAll(async () => {
      const p = app.db.prisma;
      // 1% of the customers (0..4) are in the rare region, with random vectors; 5..120 share a semantic topic,
      // 5..60 also a buying pattern; the rest are random. Customer 499 has no profile embedding.
      await ingestCustomers(p, Array.from({ length: N }, (_, i) => ({ externalId: ext(i), region: i < 5 ? rare : common })));
      const byExt = new Map((await p.customer.findMany({ where: { region: { in: [rare, common] } }, select: { id: true, externalId: true } })).map((c) => [c.externalId, c.id]));
      for (let i = 0; i < N; i++) ids.push(byExt.get(ext(i))!);
      const rng = new Rng(11);
      const randomVec = (dim: number) => Array.from({ length: dim }, () => rng.normal());
      const topic = randomVec(SEM_DIM);
      const pattern = randomVec(BEHAVIOR_DIM);
      for (let i = 0; i < N; i++) {
        sem.push(unit(i >= 5 && i <= 120 ? topic.map((x) => x + 0.5 * rng.normal()) : randomVec(SEM_DIM)));
        beh.push(unit(i >= 5 && i <= 60 ? pattern.map((x) => x + 0.3 * rng.normal()) : randomVec(BEHAVIOR_DIM)));
      }
      const semRows = JSON.stringify(ids.slice(0, N - 1).map((id, i) => ({ id, v: compactVectorLiteral(sem[i]!) })));
      const behRows = JSON.stringify(ids.map((id, i) => ({ id, v: compactVectorLiteral(beh[i]!) })));
      await p.$executeRaw`insert into customer_profile_embeddings (customer_id, model, dim, embedding, comment_count, half_life_days)
        select r.id, ${cfg.semantic.model}, ${SEM_DIM}, r.v::vector, 1, 90 from jsonb_to_recordset(${semRows}::jsonb) as r(id int, v text)`;
      await p.$executeRaw`insert into customer_behavior_vectors (customer_id, feature_set, dim, embedding)
        select r.id, ${FEATURE_SET}, ${BEHAVIOR_DIM}, r.v::vector from jsonb_to_recordset(${behRows}::jsonb) as r(id int, v text)`;
    }, 120_000);

    /** The k nearest among `pool` (indexes), exactly, in JS. */
    const truth = (vecs: number[][], q: number, pool: number[], k: number) =>
      pool.filter((i) => i !== q).map((i) => ({ i, d: cosDist(vecs[q]!, vecs[i]!) })).sort((a, b) => a.d - b.d).slice(0, k);

    it('a filter matching 1% of customers still returns k results, through the exact scan and through HNSW', async () => {
      const p = app.db.prisma;
      const q = 5; // in the big topic cluster: its nearest 100+ customers are all outside the rare region
      const want = truth(sem, q, [0, 1, 2, 3, 4], 5);
      const exact = await similarCustomers(p, cfg, { customerId: ids[q]!, k: 5, by: 'SEMANTIC', filter: { region: [rare] } });
      expect(exact.strategy).toBe('exact');
      expect(toIds(exact)).toEqual(want.map((w) => ids[w.i]));
      exact.hits.forEach((h, j) => expect(h.distance).toBeCloseTo(want[j]!.d, 4));
      // Forced through the index with a beam of 40: the iterative scan walks on past the 40 nearest, all filtered out.
      const ann = await similarCustomers(p, { ...cfg, exactBelow: 0, efSearch: 40, efSearchFiltered: 40 }, { customerId: ids[q]!, k: 5, by: 'SEMANTIC', filter: { region: [rare] } });
      expect(ann.strategy).toBe('hnsw');
      expect(toIds(ann)).toEqual(toIds(exact));
      // Unfiltered, the nearest are the topic cluster, never the customer itself.
      const plain = await similarCustomers(p, cfg, { customerId: ids[q]!, k: 10, by: 'SEMANTIC', filter: { region: [common] } });
      expect(toIds(plain)).toEqual(truth(sem, q, Array.from({ length: N - 1 }, (_, i) => i).filter((i) => i >= 5), 10).map((w) => ids[w.i]));
    });

    it('BEHAVIOR and BLEND rank by their distances; BLEND falls back to behaviour without a profile', async () => {
      const p = app.db.prisma;
      const q = 10;
      const pool = Array.from({ length: N - 5 }, (_, i) => i + 5);
      // Exact order from the exact strategy; the index (approximate, and on PostgreSQL shared with other test files'
      // vectors) must find most of the same customers, nearest first.
      const overlap = (got: readonly number[], want: readonly number[]) => got.filter((id) => want.includes(id)).length;
      const ascending = (r: { hits: { distance: number }[] }) => r.hits.every((h, j) => j === 0 || r.hits[j - 1]!.distance <= h.distance);
      const wantBeh = truth(beh, q, pool, 8).map((w) => ids[w.i]!);
      const b = await similarCustomers(p, { ...cfg, exactBelow: 1 }, { customerId: ids[q]!, k: 8, by: 'BEHAVIOR', filter: { region: [common] } });
      expect(b.strategy).toBe('exact');
      expect(toIds(b)).toEqual(wantBeh);
      const bAnn = await similarCustomers(p, cfg, { customerId: ids[q]!, k: 8, by: 'BEHAVIOR', filter: { region: [common] } });
      expect(bAnn.strategy).toBe('hnsw');
      expect(overlap(toIds(bAnn), wantBeh)).toBeGreaterThanOrEqual(6);
      expect(ascending(bAnn)).toBe(true);
      const w = 0.3;
      const blended = pool.filter((i) => i !== q && i !== N - 1)
        .map((i) => ({ i, d: w * cosDist(sem[q]!, sem[i]!) + (1 - w) * cosDist(beh[q]!, beh[i]!) }))
        .sort((x, y) => x.d - y.d).slice(0, 8);
      for (const [cfgOver, strategy] of [[{}, 'hnsw'], [{ exactBelow: 1 }, 'exact']] as const) {
        const r = await similarCustomers(p, { ...cfg, ...cfgOver }, { customerId: ids[q]!, k: 8, by: 'BLEND', semanticWeight: w, filter: { region: [common] } });
        expect(r.strategy).toBe(strategy);
        const wantBlend = blended.map((x) => ids[x.i]!);
        if (strategy === 'exact') {
          expect(toIds(r)).toEqual(wantBlend);
          r.hits.forEach((h, j) => expect(h.distance).toBeCloseTo(blended[j]!.d, 4));
        } else {
          expect(overlap(toIds(r), wantBlend)).toBeGreaterThanOrEqual(6);
          expect(ascending(r)).toBe(true);
        }
        for (const h of r.hits) expect(h.distance).toBeCloseTo(w * h.semanticDistance! + (1 - w) * h.behaviorDistance!, 6);
      }
      // Profile-heavy weights pool the profile index's candidates with the blend index's and re-rank them exactly.
      const w7 = 0.7;
      const want7 = pool.filter((i) => i !== q && i !== N - 1)
        .map((i) => ({ i, d: w7 * cosDist(sem[q]!, sem[i]!) + (1 - w7) * cosDist(beh[q]!, beh[i]!) }))
        .sort((x, y) => x.d - y.d).slice(0, 8).map((x) => ids[x.i]!);
      for (const blendCandidates of [undefined, 0]) {
        const r7 = await similarCustomers(p, { ...cfg, blendCandidates, blendCandidatesFiltered: blendCandidates }, { customerId: ids[q]!, k: 8, by: 'BLEND', semanticWeight: w7, filter: { region: [common] } });
        expect(r7.strategy).toBe('hnsw');
        expect(overlap(toIds(r7), want7)).toBeGreaterThanOrEqual(6);
        expect(ascending(r7)).toBe(true);
        for (const h of r7.hits) expect(h.distance).toBeCloseTo(w7 * h.semanticDistance! + (1 - w7) * h.behaviorDistance!, 5);
      }
      // The blend rows follow their sources (triggers): customer 200 takes the query's own profile and behaviour.
      await p.$executeRaw`update customer_profile_embeddings set embedding = ${compactVectorLiteral(sem[q]!)}::vector where customer_id = ${ids[200]!} and model = ${cfg.semantic.model}`;
      await p.$executeRaw`update customer_behavior_vectors set embedding = ${compactVectorLiteral(beh[q]!)}::vector where customer_id = ${ids[200]!}`;
      const twin = await similarCustomers(p, cfg, { customerId: ids[q]!, k: 1, by: 'BLEND', semanticWeight: w, filter: { region: [common] } });
      expect(toIds(twin)).toEqual([ids[200]]);
      expect(twin.hits[0]!.distance).toBeCloseTo(0, 5);
      await p.$executeRaw`update customer_profile_embeddings set embedding = ${compactVectorLiteral(sem[200]!)}::vector where customer_id = ${ids[200]!} and model = ${cfg.semantic.model}`;
      await p.$executeRaw`update customer_behavior_vectors set embedding = ${compactVectorLiteral(beh[200]!)}::vector where customer_id = ${ids[200]!}`;
      const [blendRows] = await p.$queryRaw<{ n: number }[]>`select count(*)::int as n from customer_blend_vectors where customer_id in (${Prisma.join(ids)})`;
      expect(blendRows!.n).toBe(N - 1);
      const noProfile = await similarCustomers(p, cfg, { customerId: ids[N - 1]!, k: 3, by: 'BLEND', filter: { region: [common] } });
      expect(noProfile.hits).toHaveLength(3);
      expect(noProfile.hits.every((h) => h.semanticDistance === null && h.behaviorDistance === h.distance)).toBe(true);
      await expect(similarCustomers(p, cfg, { customerId: ids[N - 1]!, by: 'SEMANTIC' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(similarCustomers(p, cfg, { customerId: ids[q]!, k: 0 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    });

    it('the HNSW settings set inside a statement apply to its index scan and lapse with it', async () => {
      const p = app.db.prisma;
      const space = { kind: 'semantic' as const, key: cfg.semantic.model, dim: SEM_DIM };
      // Without iterative scans a scan yields at most ef_search rows: 7 rows of the 50 asked prove the scan saw 7.
      const rows = await p.$transaction(async (tx) => {
        await tx.$executeRawUnsafe('set local enable_seqscan = off');
        return tx.$queryRaw<{ customer_id: number }[]>(annSql(space, sem[5]!, 50, [ids[5]!], null, { ef: 7, iterative: 'off' }));
      });
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.length).toBeLessThanOrEqual(7);
      const [after] = await p.$queryRaw<{ ef: string; iterative: string }[]>`select current_setting('hnsw.ef_search') as ef, current_setting('hnsw.iterative_scan') as iterative`;
      expect(after).toEqual({ ef: '40', iterative: 'off' });
    });

    it('lookalikes: nearest to the seeds centroid, seeds excluded', async () => {
      const seeds = [6, 7, 8].map((i) => ids[i]!);
      const r = await lookalikes(app.db.prisma, cfg, { seedCustomerIds: seeds, k: 20, by: 'SEMANTIC', filter: { region: [common] } });
      expect(r.hits).toHaveLength(20);
      for (const id of toIds(r)) {
        expect(seeds).not.toContain(id);
        const i = ids.indexOf(id);
        expect(i >= 5 && i <= 120).toBe(true);
      }
    });

    it('filters on the champion score tier and RFM segment', async () => {
      const p = app.db.prisma;
      const previous = await p.modelChampion.findUnique({ where: { kind: 'clv-forest' } });
      const mv = await p.modelVersion.create({ data: { kind: 'clv-forest', status: 'ready', horizonDays: 365, cutoff: new Date('2024-06-01T00:00:00Z') } });
      try {
        await p.modelChampion.upsert({ where: { kind: 'clv-forest' }, create: { kind: 'clv-forest', modelVersionId: mv.id }, update: { modelVersionId: mv.id } });
        const tiers = ['top_1', 'top_1', 'rest', 'rest', 'top_5'];
        const segs = ['lost', 'champions', 'champions', 'lost', 'lost'];
        for (let i = 0; i < 5; i++) await p.score.create({ data: { customerId: ids[i]!, modelVersionId: mv.id, clv: '1', tier: tiers[i], segment: segs[i] } });
        const q = ids[5]!;
        const top = await similarCustomers(p, cfg, { customerId: q, k: 5, by: 'SEMANTIC', filter: { tier: ['top_1'], region: [rare] } });
        expect(toIds(top).sort()).toEqual([ids[0], ids[1]].sort());
        const both = await similarCustomers(p, cfg, { customerId: q, k: 5, by: 'SEMANTIC', filter: { tier: ['top_1', 'top_5'], segment: ['champions'] } });
        expect(toIds(both)).toEqual([ids[1]]);
      } finally {
        if (previous) await p.modelChampion.update({ where: { kind: 'clv-forest' }, data: { modelVersionId: previous.modelVersionId, promotedAt: previous.promotedAt } });
        else await p.modelChampion.delete({ where: { kind: 'clv-forest' } });
        await p.modelVersion.delete({ where: { id: mv.id } });
      }
    });

    it('serves similarCustomers and lookalikes over GraphQL with customers attached', async () => {
      const http = await buildHttpServer(app);
      const { url } = await http.listen(0, '127.0.0.1');
      try {
        const reader = (await createApiKey(app.db.prisma, { name: 'sim-reader', role: 'reader' })).key;
        const Q = `query($x: String, $f: SimilarityFilter) { similarCustomers(externalId: $x, k: 3, by: SEMANTIC, filter: $f) {
          distance semanticDistance behaviorDistance customer { externalId region } } }`;
        const r = await gql(url, reader, Q, { x: ext(5), f: { region: [rare] } });
        expect(r.body.errors).toBeUndefined();
        const hits = r.body.data.similarCustomers;
        expect(hits).toHaveLength(3);
        expect(hits.every((h: any) => h.customer.region === rare && h.behaviorDistance === null)).toBe(true);
        const L = `query($s: [String!]) { lookalikes(seedExternalIds: $s, k: 4, filter: { region: ["${common}"] }) { customer { externalId } } }`;
        const l = await gql(url, reader, L, { s: [ext(6), ext(7)] });
        expect(l.body.data.lookalikes.map((h: any) => h.customer.externalId)).not.toContain(ext(6));
        expect(l.body.data.lookalikes).toHaveLength(4);
        const both = await gql(url, reader, `{ similarCustomers(customerId: "${ids[5]}", externalId: "${ext(5)}") { distance } }`);
        expect(both.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        const missing = await gql(url, reader, `{ similarCustomers(externalId: "${tag}-nobody") { distance } }`);
        expect(missing.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      } finally {
        await http.close();
      }
    });

    it('an erased customer disappears from similarity results', async () => {
      const p = app.db.prisma;
      const q = ids[5]!;
      const before = await similarCustomers(p, cfg, { customerId: q, k: 5, by: 'BLEND', filter: { region: [rare] } });
      const gone = before.hits[0]!.customerId;
      const goneExt = ext(ids.indexOf(gone));
      expect((await eraseCustomer(p, goneExt)).rows).toMatchObject({ customer_behavior_vectors: 1, customer_profile_embeddings: 1 });
      const [blendLeft] = await p.$queryRaw<{ n: number }[]>`select count(*)::int as n from customer_blend_vectors where customer_id = ${gone}`;
      expect(blendLeft!.n).toBe(0);
      for (const c of [cfg, { ...cfg, exactBelow: 0 }]) {
        for (const by of ['SEMANTIC', 'BEHAVIOR', 'BLEND'] as const) {
          const after = await similarCustomers(p, c, { customerId: q, k: 5, by, filter: { region: [rare] } });
          expect(toIds(after)).not.toContain(gone);
          expect(after.hits).toHaveLength(4);
        }
      }
      const audience = await lookalikes(p, cfg, { seedCustomerIds: [q], k: 50, by: 'BEHAVIOR' });
      expect(toIds(audience)).not.toContain(gone);
      const [left] = await p.$queryRaw<{ n: number }[]>(Prisma.sql`select count(*)::int as n from customer_behavior_vectors where customer_id = ${gone}`);
      expect(left!.n).toBe(0);
    });
  });
});
