import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { Client } from 'pg';
import { makeTinyModel } from '../../scripts/make-tiny-model';
import type { App } from '../../src/app';
import { createApiKey } from '../../src/auth/api-keys';
import { parseEnv } from '../../src/config/env';
import { buildHttpServer } from '../../src/graphql/server';
import { DAY_MS } from '../../src/features/features.definitions';
import type { PrismaClient } from '../../src/generated/prisma/client';
import { ingestComments, ingestCustomers, ingestTransactions } from '../../src/ingest/ingest.service';
import { TRAIN_DEDUPE_KEY } from '../../src/jobs/handlers/train-model.job';
import { createRun } from '../../src/jobs/job-runs';
import { parsePayload } from '../../src/jobs/registry';
import { waitForRun } from '../../src/jobs/wait';
import { MODEL_KIND } from '../../src/models/training/train.service';
import { type Proc, gql, spawnEntry } from '../helpers/processes';
import { type PrivatePostgres, type PrivateRedis, startPrivatePostgres, startPrivateRedis } from '../helpers/private-services';
import { backend, openTestApp, testEnv, uid } from '../helpers/test-env';
import { type TestServer, startTestServer } from '../helpers/test-server';

/**
 * Faults, proved end to end. PostgreSQL: a private cluster and a private Redis that this file stops, kills and
 * restarts (never the shared services). PGlite: the embedded equivalents (the API process is the worker).
 * Each backend registers only its own blocks (never skipped); the concurrent-ingest test runs on both.
 */
const describeOn = (b: typeof backend) => (backend === b ? describe : (_n: string, _f: () => void) => undefined);
jest.setTimeout(240_000);

const NOW = Date.now();
const tinyDir = path.join(__dirname, '..', '.tmp', `tiny-faults-${crypto.randomBytes(4).toString('hex')}`);
const embedConfig = () => ({ provider: 'transformers' as const, model: tinyDir, dim: 128, allowRemote: false, quantized: true, threads: 1, batchSize: 16 });

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch((e: Error) => e as unknown as T);
    if (!(v instanceof Error) && ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what} not met in ${timeoutMs} ms: ${v instanceof Error ? v.message : JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** A shop whose forest takes a few seconds to train, and comments enough for many committed embedding chunks. */
async function seedShop(prisma: PrismaClient, prefix: string, customers: number, comments: number) {
  const ext = (i: number) => `${prefix}-${i}`;
  await ingestCustomers(prisma, Array.from({ length: customers }, (_, i) => ({ externalId: ext(i), region: i % 2 ? 'north' : 'south' })));
  const txns = [];
  for (let i = 0; i < customers; i++) {
    const every = 9 + (i % 37);
    for (let d = 500; d > (i % 4 === 0 ? 220 : 3); d -= every) {
      txns.push({ externalId: `${ext(i)}-t${d}`, customerExternalId: ext(i), occurredAt: new Date(NOW - d * DAY_MS).toISOString(), amount: 10 + (i % 13) * 7 + (d % 5) });
    }
  }
  for (let i = 0; i < txns.length; i += 4000) await ingestTransactions(prisma, txns.slice(i, i + 4000));
  const rows = Array.from({ length: comments }, (_, i) => ({
    externalId: `${prefix}-m${i}`,
    customerExternalId: ext(i % customers),
    createdAt: new Date(NOW - (1 + (i % 300)) * DAY_MS).toISOString(),
    text: `review ${i}: the parcel arrived ${i % 3 ? 'late and the box was damaged' : 'early, great quality, would buy again'} ${'and so on '.repeat(i % 7)}`,
  }));
  const ids: string[] = [];
  for (let i = 0; i < rows.length; i += 2000) ids.push(...(await ingestComments(prisma, rows.slice(i, i + 2000))).changedCommentIds.map(String));
  return { ids, customers };
}

const championId = async (prisma: PrismaClient) => (await prisma.modelChampion.findUnique({ where: { kind: MODEL_KIND } }))?.modelVersionId ?? null;
const embeddedCount = async (prisma: PrismaClient) =>
  Number((await prisma.$queryRaw<{ n: bigint }[]>`select count(*) as n from comment_embeddings where model = ${tinyDir}`)[0]!.n);

beforeAll(() => makeTinyModel(tinyDir, { hidden: 128, layers: 4, heads: 4, intermediate: 256 }));
afterAll(() => fs.rmSync(tinyDir, { recursive: true, force: true }));

describeOn('postgres')('faults on a private PostgreSQL cluster and Redis', () => {
  let pg: PrivatePostgres;
  let redis: PrivateRedis;
  let overrides: Record<string, string>;
  let app: App;
  const procs: Proc[] = [];
  const worker = async () => {
    const w = spawnEntry('jobs/worker.ts', testEnv({ ...overrides, JOB_LOCK_MS: '3000' }).raw);
    procs.push(w);
    await w.waitForLog(/bullmq worker started/);
    return w;
  };

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    const c = new Client({ connectionString: pg.adminUrl });
    await c.connect();
    await c.query('create database vg_faults');
    await c.end();
    overrides = { DATABASE_URL: pg.urlFor('vg_faults'), REDIS_URL: redis.url, QUEUE_PREFIX: 'vgfaults' };
    app = await openTestApp(overrides, { runJobs: false });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await app?.close();
    await Promise.all([pg?.destroy(), redis?.destroy()]);
  });

  it('(a) a worker SIGKILLed mid-embedding: the retry resumes after the last committed chunk, one vector per comment', async () => {
    const p = app.db.prisma;
    const { ids } = await seedShop(p, uid('emb'), 60, 1500);
    const a = await worker();
    const run = await app.queue.enqueue('embeddings.embed-comments', { commentIds: ids, chunkSize: 24, refreshProfiles: false, config: embedConfig() });
    const before = await poll(
      async () => {
        const r = await p.jobRun.findUniqueOrThrow({ where: { id: run.id } });
        if (r.state === 'failed') throw new Error(`embedding failed: ${r.error}`);
        return embeddedCount(p);
      },
      (n) => n >= 48,
      90_000,
      'first chunks committed',
    );
    await a.kill('SIGKILL');
    expect(before).toBeLessThan(ids.length);
    await worker();
    const done = await waitForRun(p, run.id, { timeoutMs: 180_000 });
    expect(done).toMatchObject({ state: 'completed', error: null });
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    // The retry embedded only what was still pending, not everything again.
    expect((done.result as { embedded: number }).embedded).toBeLessThanOrEqual(ids.length - before);
    const perComment = await p.$queryRaw<{ n: bigint; comments: bigint }[]>`
      select count(*) as n, count(distinct comment_id) as comments from comment_embeddings where model = ${tinyDir}`;
    expect(perComment.map((r) => [Number(r.n), Number(r.comments)])).toEqual([[ids.length, ids.length]]);
  });

  it('(a) a worker SIGKILLed mid-training: the champion stays until the retried run completes and promotes', async () => {
    const p = app.db.prisma;
    await seedShop(p, uid('trn'), 300, 0);
    await worker();
    const first = await app.queue.enqueue('models.train', { horizonDays: 90, options: { force: true, nEstimators: 3, score: false } }, { dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts: 1 });
    expect((await waitForRun(p, first.id, { timeoutMs: 120_000 })).state).toBe('completed');
    const v1 = await championId(p);
    expect(v1).not.toBeNull();

    for (const w of procs) await w.kill('SIGKILL');
    const a = await worker();
    const run = await app.queue.enqueue('models.train', { horizonDays: 90, options: { force: true, nEstimators: 400, score: true } }, { dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts: 1 });
    await poll(() => p.jobRun.findUniqueOrThrow({ where: { id: run.id } }), (r) => r.state === 'running' && r.progress >= 0.1 && r.progress < 0.7, 120_000, 'training under way');
    await a.kill('SIGKILL');
    const orphan = await p.modelVersion.findFirstOrThrow({ where: { jobRunId: run.id } });
    expect(orphan.status).toBe('training');
    expect(await championId(p)).toBe(v1);

    await worker();
    const done = await waitForRun(p, run.id, { timeoutMs: 240_000 });
    expect(done).toMatchObject({ state: 'completed', error: null });
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    // The retry reused its version row: no duplicate versions, and every customer scored exactly once by it.
    const versions = await p.modelVersion.findMany({ where: { jobRunId: run.id } });
    expect(versions.map((v) => [v.id, v.status])).toEqual([[orphan.id, 'ready']]);
    expect(await championId(p)).toBe(orphan.id);
    expect(await p.score.count({ where: { modelVersionId: orphan.id } })).toBe(await p.customer.count());
  });

  describe('with the API and a worker running', () => {
    let server: TestServer;
    let base: string;
    const QUERY = '{ customers(first: 3) { nodes { externalId stats { orderCount } } } }';
    const ready = async () => {
      const r = await fetch(`${base}/readyz`);
      return { status: r.status, body: (await r.json()) as { ok: boolean; checks: Record<string, string> } };
    };

    beforeAll(async () => {
      for (const w of procs) await w.kill('SIGKILL');
      // Over the app opened above (already migrated), so this server and the test share one Redis client setup.
      const keys = {} as TestServer['keys'];
      for (const role of ['reader', 'writer', 'admin'] as const) keys[role] = (await createApiKey(app.db.prisma, { name: role, role })).key;
      const http = await buildHttpServer(app);
      const { url } = await http.listen(0, '127.0.0.1');
      server = { app, url, keys, close: () => http.close() };
      base = url.replace(/\/graphql$/, '');
      await worker();
    }, 120_000);
    afterAll(() => server?.close());

    it('(b) Redis killed and restarted: queries keep working, enqueued runs wait in PostgreSQL and finish afterwards', async () => {
      const { url, keys } = server;
      expect((await ready()).status).toBe(200);
      await redis.stop();

      const q = await gql(url, keys.reader, QUERY);
      expect([q.status, q.body.errors]).toEqual([200, undefined]);
      const notReady = await ready();
      expect(notReady.status).toBe(503);
      expect(notReady.body.checks.database).toBe('ok');
      expect(notReady.body.checks.jobs).not.toBe('ok');

      // Durable queueing: the run is written to PostgreSQL and the mutation succeeds with a clear message.
      const queued = await gql(url, keys.admin, 'mutation { runSelftest(durationMs: 50) { id state message } }');
      expect(queued.status).toBe(200);
      expect(queued.body.data.runSelftest).toMatchObject({ state: 'queued', message: expect.stringMatching(/redis unavailable/) });
      const c = uid('rd');
      const ingest = await gql(url, keys.writer, `mutation($c: [CustomerInput!], $r: [CommentInput!]!) { ingestComments(rows: $r, customers: $c) { inserted embeddingJob { id state } } }`, {
        c: [{ externalId: c }],
        r: [{ externalId: `${c}-m`, customerExternalId: c, createdAt: '2024-05-01T00:00:00Z', text: 'written while redis was down' }],
      });
      expect(ingest.status).toBe(200);
      expect(ingest.body.data.ingestComments).toMatchObject({ inserted: 1, embeddingJob: { state: 'queued' } });

      await redis.start();
      // The worker reconnects and its reconciler hands the database-queued runs to the fresh (empty) Redis.
      const id = queued.body.data.runSelftest.id as string;
      const done = await waitForRun(app.db.prisma, id, { timeoutMs: 90_000 });
      expect(done).toMatchObject({ state: 'completed', attempts: 1 });
      const embed = await waitForRun(app.db.prisma, ingest.body.data.ingestComments.embeddingJob.id, { timeoutMs: 90_000 });
      expect(embed.state).toBe('completed');
      await poll(ready, (r) => r.status === 200, 30_000, 'readyz back to 200');
      // The API's own Redis client reconnected: a new run is handed to BullMQ directly.
      const after = await gql(url, keys.admin, 'mutation { runSelftest(durationMs: 50) { id message } }');
      expect(after.body.data.runSelftest.message).toBeNull();
      expect((await waitForRun(app.db.prisma, after.body.data.runSelftest.id, { timeoutMs: 60_000 })).state).toBe('completed');
    });

    it('(c) PostgreSQL restarted: clean 503 UNAVAILABLE during the outage, recovery without restarting anything', async () => {
      const { url, keys } = server;
      expect((await gql(url, keys.reader, QUERY)).status).toBe(200);
      await pg.stop('fast');
      try {
        for (const [key, query] of [[keys.reader, QUERY], [keys.writer, 'mutation { ingestCustomers(rows: [{ externalId: "pg-down" }]) { inserted } }']] as const) {
          const r = await gql(url, key, query);
          expect([r.status, r.body.errors?.[0]?.extensions?.code]).toEqual([503, 'UNAVAILABLE']);
          expect(JSON.stringify(r.body)).not.toMatch(/stack|ECONNREFUSED|prisma|\.ts:\d+|127\.0\.0\.1/i);
        }
        expect((await fetch(`${base}/healthz`)).status).toBe(200);
        const nr = await ready();
        expect(nr.status).toBe(503);
        expect(nr.body.checks.database).not.toBe('ok');
      } finally {
        await pg.start();
      }
      const back = await poll(() => gql(url, keys.reader, QUERY), (r) => r.status === 200, 60_000, 'queries answered again');
      expect(back.body.errors).toBeUndefined();
      await poll(ready, (r) => r.status === 200, 30_000, 'readyz back to 200');
      // The worker's pool reconnected too.
      const run = await gql(url, keys.admin, 'mutation { runSelftest(durationMs: 50) { id } }');
      expect((await waitForRun(app.db.prisma, run.body.data.runSelftest.id, { timeoutMs: 60_000 })).state).toBe('completed');
    });
  });
});

describeOn('pglite')('faults of the embedded deployment (the API process runs the jobs)', () => {
  it('(b) Redis needs PostgreSQL: REDIS_URL without DATABASE_URL is refused at start-up', () => {
    expect(() => parseEnv({ REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/DATABASE_URL/);
  });

  it('(a, c) API SIGKILLed mid-embedding and mid-training: embedding resumes, training fails cleanly and the champion survives', async () => {
    const e = testEnv({ PORT: '0', SHUTDOWN_TIMEOUT_MS: '500' }).raw;
    const setup = await openTestApp({ DATA_DIR: e.DATA_DIR! }, { runJobs: false });
    let ids: string[] = [];
    let key = '';
    let embedId = '';
    try {
      ({ ids } = await seedShop(setup.db.prisma, uid('pgl'), 200, 900));
      key = (await createApiKey(setup.db.prisma, { name: 'faults', role: 'admin' })).key;
      // Written straight to job_runs (queue.enqueue would start it in this process): claimed when the API starts.
      const payload = parsePayload('embeddings.embed-comments', { commentIds: ids, chunkSize: 24, refreshProfiles: false, config: embedConfig() });
      embedId = (await createRun(setup.db.prisma, { name: 'embeddings.embed-comments', payload, maxAttempts: 3 })).run.id;
    } finally {
      await setup.close();
    }
    const start = async () => {
      const proc = spawnEntry('src/main.ts', e);
      const rec = await proc.waitForLog(/GraphQL API listening/);
      return { proc, url: String(rec.url) };
    };
    const STATUS = 'query($id: ID!) { jobRun(id: $id) { state attempts progress error result } }';
    const status = async (url: string, id: string) => (await gql(url, key, STATUS, { id })).body.data.jobRun;
    const finished = (url: string, id: string) => poll(() => status(url, id), (r) => ['completed', 'failed'].includes(r?.state), 180_000, `run ${id} finished`);
    const retrain = async (url: string, nEstimators: number) =>
      (await gql(url, key, `mutation($o: JSON) { retrainModel(horizonDays: 90, options: $o) { id } }`, { o: { force: true, nEstimators, score: false } })).body.data.retrainModel.id as string;
    const champion = async (url: string) =>
      ((await gql(url, key, '{ models(first: 100) { id kind isChampion } }')).body.data.models as { id: string; kind: string; isChampion: boolean }[]).find((m) => m.isChampion && m.kind === MODEL_KIND)?.id ?? null;

    let api = await start();
    try {
      // Watched from the start: the embedding runs as soon as the API is up, and on a fast machine it was over
      // before the (seconds-long) second-process check below had finished.
      await poll(() => status(api.url, embedId), (r) => r.state === 'running' && r.progress >= 0.05 && r.progress < 0.7, 120_000, 'embedding under way');
      await api.proc.kill('SIGKILL');
      api = await start();

      // (c) embedded: a second process on the same data directory refuses to start, naming the holder.
      const second = spawnEntry('src/main.ts', e);
      expect(await second.exited).not.toBe(0);
      expect(second.output()).toMatch(new RegExp(`in use by process ${api.proc.child.pid}`));

      const embedded = await finished(api.url, embedId);
      expect(embedded).toMatchObject({ state: 'completed', attempts: 2, error: null });
      expect(embedded.result.embedded).toBeLessThan(ids.length);

      const v1Run = await retrain(api.url, 3);
      expect((await finished(api.url, v1Run)).state).toBe('completed');
      const v1 = await champion(api.url);
      expect(v1).not.toBeNull();

      // The most trees the API accepts, and the whole tree phase (progress 0.05–0.85) as the window: with 400 trees
      // and 0.1–0.7, a fast machine finished the 477-row training between two polls.
      const runId = await retrain(api.url, 1000);
      await poll(() => status(api.url, runId), (r) => r.state === 'running' && r.progress >= 0.1 && r.progress < 0.85, 120_000, 'training under way');
      await api.proc.kill('SIGKILL');
      api = await start();
      // Training runs once (maxAttempts 1): the lost run is failed with a reason, the champion is untouched.
      const lost = await finished(api.url, runId);
      expect(lost).toMatchObject({ state: 'failed', error: expect.stringMatching(/worker lost/) });
      expect(await champion(api.url)).toBe(v1);
      const v2Run = await retrain(api.url, 3);
      expect((await finished(api.url, v2Run)).state).toBe('completed');
      expect(await champion(api.url)).not.toBe(v1);
    } finally {
      await api.proc.kill('SIGTERM');
    }
    const check = await openTestApp({ DATA_DIR: e.DATA_DIR! }, { runJobs: false });
    try {
      const rows = await check.db.prisma.$queryRaw<{ n: bigint; comments: bigint }[]>`
        select count(*) as n, count(distinct comment_id) as comments from comment_embeddings where model = ${tinyDir}`;
      expect(rows.map((r) => [Number(r.n), Number(r.comments)])).toEqual([[ids.length, ids.length]]);
    } finally {
      await check.close();
      fs.rmSync(e.DATA_DIR!, { recursive: true, force: true });
    }
  });
});

describe(`(d) overlapping ingests at the same time on ${backend}`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ roles: ['writer'] });
  }, 60_000);
  afterAll(() => server?.close());

  it('loses nothing and duplicates nothing, whatever the row order of each batch', async () => {
    const prefix = uid('ovl');
    const ext = (i: number) => `${prefix}-${String(i).padStart(4, '0')}`;
    const M = `mutation($c: [CustomerInput!], $r: [TransactionInput!]!) { ingestTransactions(rows: $r, customers: $c) { received inserted updated unchanged } }`;
    // Four batches over 1,200 customers, each overlapping its neighbours by half; half of them in reverse order.
    const batches = [0, 300, 600, 900].map((from, b) => {
      const idx = Array.from({ length: 600 }, (_, k) => (from + k) % 1200);
      if (b % 2) idx.reverse();
      return {
        c: idx.map((i) => ({ externalId: ext(i), region: 'r' })),
        r: idx.map((i) => ({ externalId: `${ext(i)}-t`, customerExternalId: ext(i), occurredAt: '2024-06-01T00:00:00Z', amount: '12.34' })),
      };
    });
    const results = await Promise.all(batches.map((v) => gql(server.url, server.keys.writer, M, v)));
    for (const r of results) expect([r.status, r.body.errors]).toEqual([200, undefined]);
    const p = server.app.db.prisma;
    expect(await p.customer.count({ where: { externalId: { startsWith: `${prefix}-` } } })).toBe(1200);
    expect(await p.transaction.count({ where: { externalId: { startsWith: `${prefix}-` } } })).toBe(1200);
    // Every row inserted exactly once across the four batches; the overlaps were no-ops.
    const inserted = results.reduce((s, r) => s + r.body.data.ingestTransactions.inserted, 0);
    const unchanged = results.reduce((s, r) => s + r.body.data.ingestTransactions.unchanged, 0);
    expect([inserted, unchanged]).toEqual([1200, 1200]);
    const total = await p.$queryRaw<{ s: string }[]>`select sum(amount)::text as s from transactions where external_id like ${`${prefix}-%`}`;
    expect(total[0]!.s).toBe('14808.0000');

    // The same at service level without HTTP in between, so the batches really overlap in time: eight batches
    // of 1,500 rows in opposite orders (these deadlocked before upserts wrote rows in one order).
    const ids = Array.from({ length: 3000 }, (_, i) => `${prefix}-b${String(i).padStart(5, '0')}`);
    const slices = Array.from({ length: 8 }, (_, b) => {
      const part = ids.slice((b % 4) * 500, (b % 4) * 500 + 1500);
      return b % 2 ? [...part].reverse() : part;
    });
    const c = await Promise.allSettled(slices.map((s) => ingestCustomers(p, s.map((externalId) => ({ externalId, region: 'b' })))));
    const t = await Promise.allSettled(
      slices.map((s) => ingestTransactions(p, s.map((x) => ({ externalId: `${x}-t`, customerExternalId: x, occurredAt: '2024-06-01T00:00:00Z', amount: '1.5' })))),
    );
    expect([...c, ...t].filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    expect(await p.customer.count({ where: { externalId: { startsWith: `${prefix}-b` } } })).toBe(3000);
    expect(await p.transaction.count({ where: { externalId: { startsWith: `${prefix}-b` } } })).toBe(3000);
  });
});
