import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '../../src/app';
import { ingestComments, ingestCustomers } from '../../src/ingest/ingest.service';
import { waitForRun } from '../../src/jobs/wait';
import { type Proc, spawnEntry } from '../helpers/processes';
import { backend, openTestApp, testEnv, uid } from '../helpers/test-env';

/**
 * An OpenAI-compatible embedding server in the test process counts how often each text is embedded: every
 * worker process calls it, so a comment embedded twice anywhere shows up as a count of 2.
 */
function countingServer(dim: number, delayMs: number) {
  const calls = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const { input } = JSON.parse(body) as { input: string[] };
      for (const t of input) calls.set(t, (calls.get(t) ?? 0) + 1);
      const data = input.map((t, index) => ({ index, embedding: Array.from({ length: dim }, (_, j) => 1 + ((t.length * (j + 3)) % 7)) }));
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ data })), delayMs);
    });
  });
  return {
    calls,
    async start() {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

describe(`embedding fan-out (${backend})`, () => {
  let app: App;
  const procs: Proc[] = [];
  const fake = countingServer(8, 100);
  const texts: string[] = [];
  let url = '';
  const config = () => ({ provider: 'openai' as const, model: `count-${uid()}`, dim: 8, openaiUrl: url, openaiTimeoutMs: 10_000, openaiMaxBatch: 16 });

  beforeAll(async () => {
    url = await fake.start();
    app = await openTestApp({}, { runJobs: backend === 'pglite' });
    if (backend === 'postgres') {
      const env = testEnv({ JOB_CONCURRENCY: '2' }).raw;
      for (let i = 0; i < 3; i++) procs.push(spawnEntry('jobs/worker.ts', env));
      await Promise.all(procs.map((p) => p.waitForLog(/bullmq worker started/)));
    }
    const prefix = uid('emb');
    const customers = Array.from({ length: 20 }, (_, i) => ({ externalId: `${prefix}-${i}` }));
    await ingestCustomers(app.db.prisma, customers);
    const comments = Array.from({ length: 240 }, (_, i) => {
      const text = `${prefix} comment ${i}: ${'very '.repeat(i % 9)}happy with the delivery`;
      texts.push(text);
      return { externalId: `${prefix}-c${i}`, customerExternalId: `${prefix}-${i % 20}`, createdAt: new Date(Date.UTC(2024, 0, 1 + i)).toISOString(), source: 'review', language: 'en', text };
    });
    await ingestComments(app.db.prisma, comments);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGTERM')));
    await app?.close();
    await fake.close();
  });

  it('embeds every comment exactly once, concurrently fanned-out runs included', async () => {
    const cfg = config();
    const total = await app.db.prisma.comment.count();
    const payload = { shares: 3, chunkSize: 16, config: cfg };
    // Two fan-outs over the same pending comments at once: their ranges overlap completely.
    const runs = await Promise.all([app.queue.enqueue('embeddings.embed-fanout', payload), app.queue.enqueue('embeddings.embed-fanout', payload)]);
    const done = await Promise.all(runs.map((r) => waitForRun(app.db.prisma, r.id, { timeoutMs: 150_000 })));
    for (const d of done) expect([d.state, d.error]).toEqual(['completed', null]);
    for (const t of texts) expect([t, fake.calls.get(t)]).toEqual([t, 1]);
    // Other test files share this database and reuse texts across comments: a text may be sent once per comment
    // that carries it, never more (a comment embedded twice would exceed its text's count).
    const perText = await app.db.prisma.comment.groupBy({ by: ['text'], _count: { _all: true } });
    const comments = new Map(perText.map((r) => [r.text, r._count._all]));
    const over = [...fake.calls].filter(([t, n]) => n > (comments.get(t) ?? 0));
    expect(over).toEqual([]);
    const vectors = await app.db.prisma.commentEmbedding.count({ where: { model: { contains: cfg.model } } });
    expect(vectors).toBe(total);
    if (backend === 'postgres') {
      const ranges = await app.db.prisma.jobRun.findMany({ where: { name: 'embeddings.embed-range', payload: { path: ['fanoutRunId'], equals: runs[0]!.id } } });
      expect(ranges).toHaveLength(3);
      expect(ranges.every((r) => r.state === 'completed')).toBe(true);
      expect(new Set(ranges.map((r) => r.workerId)).size).toBeGreaterThanOrEqual(2);
      expect(done.map((d) => (d.result as { vectors: number }).vectors)).toEqual([total, total]);
    }
    const profiles = await app.db.prisma.customerProfileEmbedding.count({ where: { model: { contains: cfg.model } } });
    expect(profiles).toBeGreaterThanOrEqual(20);
  }, 200_000);
});
