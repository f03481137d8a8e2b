import type { App } from '../../src/app';
import { Prisma } from '../../src/generated/prisma/client';
import type { EmbeddingProvider } from '../../src/embeddings/embedding.types';
import { embedPendingComments, refreshProfiles } from '../../src/embeddings/embed.service';
import { l2normalize } from '../../src/embeddings/vector-math';
import { ingestComments, ingestCustomers } from '../../src/ingest/ingest.service';
import { Rng } from '../../src/lib/random';
import { commentSearchSql, searchComments, searchCustomers } from '../../src/similarity/search.service';
import { backend, openTestApp, uid } from '../helpers/test-env';

/** 384-d vectors seeded by the text's first word: texts sharing it are near, others random. */
class TopicProvider implements EmbeddingProvider {
  readonly dim = 384;
  constructor(readonly model: string) {}
  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => {
      const [topic, ...rest] = t.toLowerCase().split(/\s+/);
      const base = new Rng([...topic!].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
      const noise = new Rng(rest.join(' ').length + 1);
      return l2normalize(Float32Array.from({ length: 384 }, () => base.normal() + 0.3 * noise.normal()));
    });
  }
}

describe(`semantic search through the 384-d HNSW index on ${backend}`, () => {
  let app: App;
  const provider = new TopicProvider(`topic-${uid()}`);
  const customers = Array.from({ length: 12 }, (_, i) => uid(`s${i}`));
  const topics = ['delivery', 'price', 'quality'];

  beforeAll(async () => {
    app = await openTestApp({}, { runJobs: false });
    const p = app.db.prisma;
    await ingestCustomers(p, customers.map((externalId) => ({ externalId })));
    const rows = customers.flatMap((c, i) =>
      Array.from({ length: 5 }, (_, j) => ({
        externalId: `${c}-${j}`,
        customerExternalId: c,
        createdAt: new Date(Date.UTC(2024, 0, 1 + j)).toISOString(),
        text: `${topics[i % 3]} comment number ${j} by customer ${i}${' x'.repeat(j)}`,
      })),
    );
    const r = await ingestComments(p, rows);
    const e = await embedPendingComments(p, provider, { commentIds: r.changedCommentIds });
    await refreshProfiles(p, { model: provider.model, dim: 384, halfLifeDays: 90, customerIds: undefined });
    expect(e.embedded).toBe(60);
  }, 120_000);

  afterAll(() => app?.close(), 60_000);

  it('returns more than ef_search default candidates when k is large, nearest first', async () => {
    const hits = await searchComments(app.db.prisma, provider, 'delivery late again', 50);
    expect(hits).toHaveLength(50);
    expect(hits.slice(0, 20).every((h) => h.text.startsWith('delivery'))).toBe(true);
    const sims = hits.map((h) => h.similarity);
    expect([...sims].sort((a, b) => b - a)).toEqual(sims);
  });

  it('applies filters and finds customers by their profile', async () => {
    const hits = await searchComments(app.db.prisma, provider, 'price too high', 3, { customerExternalId: customers[4]! });
    expect(hits.map((h) => h.customerExternalId)).toEqual([customers[4], customers[4], customers[4]]);
    const top = await searchCustomers(app.db.prisma, provider, 'quality is poor', 4);
    expect(top.map((c) => c.externalId).sort()).toEqual([customers[2], customers[5], customers[8], customers[11]].sort());
    expect(top[0]!.commentCount).toBe(5);
  });

  it('plans the comment search as an HNSW index scan', async () => {
    const [v] = await provider.embed(['delivery']);
    const q = commentSearchSql(v!, provider.model, 384, 10);
    const plan = await app.db.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('set local enable_seqscan = off');
      return tx.$queryRaw<{ 'QUERY PLAN': string }[]>(Prisma.sql`explain ${q.sql}`);
    });
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index Scan using comment_embeddings_hnsw_384/);
  });
});
