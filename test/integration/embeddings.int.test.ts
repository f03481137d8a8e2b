/** @jest-environment ./test/unit/embeddings-jest-env.cjs */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeTinyModel } from '../../scripts/make-tiny-model';
import type { App } from '../../src/app';
import { createApiKey } from '../../src/auth/api-keys';
import { embedPendingComments, refreshProfiles } from '../../src/embeddings/embed.service';
import { semanticFeatures } from '../../src/embeddings/semantic-features';
import { DEFAULT_CONCEPTS } from '../../src/embeddings/concepts';
import { buildHttpServer, type HttpServer } from '../../src/graphql/server';
import { ingestComments, ingestCustomers } from '../../src/ingest/ingest.service';
import { waitForRun } from '../../src/jobs/wait';
import { searchComments, searchCustomers } from '../../src/similarity/search.service';
import { KeywordProvider } from '../unit/embeddings-fake-provider';
import { type Proc, spawnEntry } from '../helpers/processes';
import { backend, openTestApp, testEnv, uid } from '../helpers/test-env';

const day = (n: number) => new Date(Date.UTC(2024, 0, 1) + n * 86_400_000);

describe(`embeddings on ${backend}`, () => {
  let app: App;
  let worker: Proc | undefined;
  const model = `kw-${uid()}`;
  const tinyDir = path.join(__dirname, '..', '.tmp', `tiny-int-${crypto.randomBytes(4).toString('hex')}`);
  const cust = { late: uid('late'), happy: uid('happy'), leaver: uid('leaver') };
  let ids: bigint[] = [];

  const comment = (customer: string, n: number, text: string) => ({
    externalId: `${customer}-c${n}`,
    customerExternalId: customer,
    createdAt: day(n).toISOString(),
    source: 'review',
    language: 'en',
    text,
  });

  beforeAll(async () => {
    makeTinyModel(tinyDir);
    app = await openTestApp();
    if (backend === 'postgres') {
      worker = spawnEntry('jobs/worker.ts', testEnv().raw);
      await worker.waitForLog(/bullmq worker started/);
    }
    const p = app.db.prisma;
    await ingestCustomers(p, Object.values(cust).map((externalId) => ({ externalId })));
    const r = await ingestComments(p, [
      comment(cust.late, 1, 'My parcel is late again, still waiting for the delivery'),
      comment(cust.late, 2, 'The package shipping took weeks'),
      comment(cust.happy, 3, 'Love it, excellent quality, thank you'),
      comment(cust.happy, 4, 'Great shop, perfect fit'),
      comment(cust.leaver, 5, 'Great shop, happy with it'),
      comment(cust.leaver, 300, 'Please cancel my account, I am switching to another store'),
    ]);
    ids = r.changedCommentIds;
  }, 120_000);

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await app?.close();
    fs.rmSync(tinyDir, { recursive: true, force: true });
  }, 60_000);

  const rowsOf = (m: string) =>
    app.db.prisma.$queryRaw<{ comment_id: bigint; created_at: Date }[]>`
      select comment_id, created_at from comment_embeddings where model = ${m} and comment_id in (select (jsonb_array_elements_text(${JSON.stringify(ids.map(String))}::jsonb))::bigint)
      order by comment_id`;

  it('resumes after a crash mid-run without duplicates, then re-running writes nothing', async () => {
    const crashing = new KeywordProvider(model, 2);
    await expect(embedPendingComments(app.db.prisma, crashing, { commentIds: ids, chunkSize: 2 })).rejects.toThrow(/planned provider crash/);
    const afterCrash = await rowsOf(model);
    expect(afterCrash).toHaveLength(2); // the first chunk was committed

    const provider = new KeywordProvider(model);
    const resumed = await embedPendingComments(app.db.prisma, provider, { commentIds: ids, chunkSize: 2 });
    expect(resumed.embedded).toBe(4);
    expect(provider.texts).toBe(4); // the committed chunk was not embedded again
    const all = await rowsOf(model);
    expect(all.map((r) => BigInt(r.comment_id))).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    expect(all.slice(0, 2).map((r) => r.created_at.getTime())).toEqual(afterCrash.map((r) => r.created_at.getTime()));

    const again = await embedPendingComments(app.db.prisma, provider, { commentIds: ids, chunkSize: 2 });
    expect(again.embedded).toBe(0);
    expect(provider.texts).toBe(4);
  });

  it('re-embeds exactly the comments whose text changed', async () => {
    const p = app.db.prisma;
    await ingestComments(p, [comment(cust.happy, 4, 'Great shop, perfect fit, thank you')]);
    const provider = new KeywordProvider(model);
    const r = await embedPendingComments(p, provider, { commentIds: ids });
    expect(r.embedded).toBe(1);
    expect(provider.texts).toBe(1);
  });

  it('keeps profile vectors current and rewrites nothing when nothing changed', async () => {
    const customerIds = (await app.db.prisma.customer.findMany({ where: { externalId: { in: Object.values(cust) } }, select: { id: true } })).map((c) => c.id);
    const first = await refreshProfiles(app.db.prisma, { model, dim: 8, halfLifeDays: 30, customerIds });
    expect(first.written).toBe(3);
    const second = await refreshProfiles(app.db.prisma, { model, dim: 8, halfLifeDays: 30, customerIds });
    expect(second.written).toBe(0);
  });

  it('computes point-in-time semantic features whose concept scores follow the comments', async () => {
    const p = app.db.prisma;
    const byExt = new Map((await p.customer.findMany({ where: { externalId: { in: Object.values(cust) } } })).map((c) => [c.externalId, c.id]));
    const opts = { model, dim: 8, provider: new KeywordProvider(model), concepts: DEFAULT_CONCEPTS, halfLifeDays: 30, customerIds: [...byExt.values()] };
    const now = await semanticFeatures(p, opts);
    expect(now.available).toBe(true);
    const late = now.get(byExt.get(cust.late)!)!;
    const happy = now.get(byExt.get(cust.happy)!)!;
    expect(late.sem_concept_delivery_problem!).toBeGreaterThan(happy.sem_concept_delivery_problem!);
    expect(happy.sem_concept_satisfied!).toBeGreaterThan(late.sem_concept_satisfied!);
    expect(happy.sem_sentiment!).toBeGreaterThan(0);
    expect(now.featureNames).toContain('sem_concept_wants_to_cancel');

    // Before the leaver's cancellation (day 300) the profile knows only the happy comment.
    const past = await semanticFeatures(p, { ...opts, asOf: day(100) });
    const leaverPast = past.get(byExt.get(cust.leaver)!)!;
    const leaverNow = now.get(byExt.get(cust.leaver)!)!;
    expect(leaverPast.sem_comment_count).toBe(1);
    expect(leaverNow.sem_comment_count).toBe(2);
    expect(leaverNow.sem_concept_wants_to_cancel!).toBeGreaterThan(leaverPast.sem_concept_wants_to_cancel! + 0.1);
    expect(leaverPast.sem_days_since_last_comment).toBeCloseTo(95, 6);

    const { provider: _unused, ...noProvider } = opts;
    const missing = await semanticFeatures(p, {
      ...noProvider,
      config: { provider: 'transformers', model: path.join(tinyDir, 'gone'), dim: 8, allowRemote: false, quantized: true, threads: 1, batchSize: 8, openaiTimeoutMs: 1, openaiMaxBatch: 1 },
    });
    expect(missing.size).toBe(0);
    expect(missing.available).toBe(false);
    expect(missing.reason).toMatch(/no model directory/);

    const mismatch = await semanticFeatures(p, { ...opts, model: `${model}-other` });
    expect(mismatch.size).toBe(0);
    expect(mismatch.available).toBe(false);
    expect(mismatch.reason).toMatch(/configured model is/);
  });

  it('finds comments and customers by meaning, within one model', async () => {
    const provider = new KeywordProvider(model);
    const hits = await searchComments(app.db.prisma, provider, 'late delivery', 2, { customerExternalId: cust.late });
    expect(hits.map((h) => h.customerExternalId)).toEqual([cust.late, cust.late]);
    const top = await searchComments(app.db.prisma, provider, 'please cancel', 1);
    expect(top[0]!.text).toMatch(/cancel my account/);
    const customers = await searchCustomers(app.db.prisma, provider, 'my parcel is late', 1);
    expect(customers[0]!.externalId).toBe(cust.late);
    const otherModel = await searchComments(app.db.prisma, new KeywordProvider(`${model}-x`), 'late delivery', 5);
    expect(otherModel).toEqual([]);
  });

  it('runs the embedding job on the generated tiny model: idempotent, with profiles', async () => {
    const config = { provider: 'transformers' as const, model: tinyDir, dim: 32, allowRemote: false, quantized: true, threads: 1, batchSize: 4 };
    const payload = { commentIds: ids.map(String), chunkSize: 4, config };
    const first = await waitForRun(app.db.prisma, (await app.queue.enqueue('embeddings.embed-comments', payload)).id, { timeoutMs: 60_000 });
    expect(first.state).toBe('completed');
    expect(first.result).toMatchObject({ available: true, embedded: ids.length, chunks: 2, profilesWritten: 3, dim: 32 });
    const rows = await app.db.prisma.$queryRaw<{ dim: number; v: string }[]>`
      select dim, embedding::text as v from comment_embeddings where model = ${tinyDir}
        and comment_id in (select (jsonb_array_elements_text(${JSON.stringify(ids.map(String))}::jsonb))::bigint)`;
    expect(rows).toHaveLength(ids.length);
    for (const r of rows) {
      const v = r.v.slice(1, -1).split(',').map(Number);
      expect(r.dim).toBe(32);
      expect(v).toHaveLength(32);
      expect(Math.hypot(...v)).toBeCloseTo(1, 4);
    }
    const second = await waitForRun(app.db.prisma, (await app.queue.enqueue('embeddings.embed-comments', payload)).id, { timeoutMs: 60_000 });
    expect(second.result).toMatchObject({ available: true, embedded: 0, profilesWritten: 0 });
  }, 120_000);

  it('completes with a clear reason when the model cannot be loaded', async () => {
    const payload = { commentIds: ids.map(String), config: { provider: 'transformers' as const, model: path.join(tinyDir, 'missing'), allowRemote: false } };
    const run = await waitForRun(app.db.prisma, (await app.queue.enqueue('embeddings.embed-comments', payload)).id, { timeoutMs: 60_000 });
    expect(run.state).toBe('completed');
    expect(run.result).toMatchObject({ available: false, embedded: 0 });
    expect((run.result as { reason: string }).reason).toMatch(/no model directory/);
  }, 60_000);

  it('exposes embeddingStatus, search and the backfill mutation over GraphQL', async () => {
    let http: HttpServer | undefined;
    const offline = await openTestApp({ EMBEDDING_ALLOW_REMOTE: 'false', EMBEDDING_CACHE_DIR: path.join(tinyDir, 'no-cache') }, { runJobs: false });
    try {
      http = await buildHttpServer(offline);
      const { url } = await http.listen(0, '127.0.0.1');
      const admin = (await createApiKey(offline.db.prisma, { name: uid('emb'), role: 'admin' })).key;
      const gql = async (query: string) => {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify({ query }) });
        return (await res.json()) as { data?: Record<string, any>; errors?: { message: string; extensions?: { code?: string } }[] };
      };
      const s = await gql('{ embeddingStatus { provider model dim available reason } }');
      expect(s.data!.embeddingStatus).toMatchObject({ provider: 'transformers', model: 'Xenova/all-MiniLM-L6-v2', dim: 384, available: false });
      expect(s.data!.embeddingStatus.reason).toMatch(/cannot load transformers model "Xenova\/all-MiniLM-L6-v2" \(remote downloads are off/);
      const search = await gql('{ searchComments(text: "late delivery", k: 3) { commentId } }');
      expect(search.errors![0]!.extensions!.code).toBe('UNAVAILABLE');
      expect(search.errors![0]!.message).toMatch(/semantic search is unavailable/);
      const backfill = await gql('mutation { backfillEmbeddings { id name state } }');
      expect(backfill.data!.backfillEmbeddings).toMatchObject({ name: 'embeddings.embed-comments', state: 'queued' });
    } finally {
      await http?.close();
      await offline.close();
    }
  }, 60_000);
});
