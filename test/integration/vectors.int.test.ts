import type { App } from '../../src/app';
import { Prisma } from '../../src/generated/prisma/client';
import { castVector, vectorParam } from '../../src/db/vector';
import { Rng } from '../../src/lib/random';
import { backend, openTestApp, uid } from '../helpers/test-env';

const DIM = 384;
const N = 400;
const MODEL = `test-model-${uid()}`;

function unit(rng: Rng): number[] {
  const v = Array.from({ length: DIM }, () => rng.normal());
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}
const cosineDistance = (a: number[], b: number[]) => 1 - a.reduce((s, x, i) => s + x * b[i]!, 0);

describe(`pgvector top-k on ${backend}`, () => {
  let app: App;
  const rng = new Rng(7);
  const vectors = Array.from({ length: N }, () => unit(rng));
  const query = unit(rng);
  const ids: bigint[] = [];

  beforeAll(async () => {
    app = await openTestApp({}, { runJobs: false });
    const p = app.db.prisma;
    const customer = await p.customer.create({ data: { externalId: uid('vec') } });
    for (let i = 0; i < N; i++) {
      const c = await p.comment.create({
        data: { externalId: uid('vc'), customerId: customer.id, createdAt: new Date(), text: `t${i}`, textHash: 'x'.repeat(64) },
      });
      ids.push(c.id);
    }
    const values = vectors.map((v, i) => Prisma.sql`(${ids[i]}, ${MODEL}, ${DIM}, 'x', ${vectorParam(v, DIM)})`);
    await p.$executeRaw`insert into comment_embeddings (comment_id, model, dim, text_hash, embedding) values ${Prisma.join(values)}`;
  }, 120_000);

  afterAll(() => app?.close());

  const knn = (k: number) => Prisma.sql`
    select comment_id from comment_embeddings
    where dim = ${Prisma.raw(String(DIM))} and model = ${MODEL}
    order by ${castVector('embedding', DIM)} <=> ${vectorParam(query, DIM)} limit ${k}`;

  it('returns the exact nearest neighbours, through the HNSW index', async () => {
    const p = app.db.prisma;
    const expected = vectors
      .map((v, i) => ({ id: ids[i]!, d: cosineDistance(v, query) }))
      .sort((a, b) => a.d - b.d)
      .slice(0, 10)
      .map((x) => x.id);
    const rows = await p.$queryRaw<{ comment_id: bigint }[]>(knn(10));
    expect(rows.map((r) => BigInt(r.comment_id))).toEqual(expected);

    // A small table would be seq-scanned by cost; forbid that to see that the index CAN serve the query.
    const plan = await p.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('set local enable_seqscan = off');
      return tx.$queryRaw<{ 'QUERY PLAN': string }[]>(Prisma.sql`explain ${knn(10)}`);
    });
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index Scan using comment_embeddings_hnsw_384/);
  });

  it('never mixes vectors of another model or dimension into the results', async () => {
    const p = app.db.prisma;
    const customer = await p.customer.create({ data: { externalId: uid('vec2') } });
    const other = await p.comment.create({
      data: { externalId: uid('vc'), customerId: customer.id, createdAt: new Date(), text: 'o', textHash: 'x'.repeat(64) },
    });
    // Identical to the query vector, but from another model: must not appear.
    await p.$executeRaw`insert into comment_embeddings (comment_id, model, dim, text_hash, embedding)
      values (${other.id}, ${`${MODEL}-other`}, ${DIM}, 'x', ${vectorParam(query, DIM)})`;
    const rows = await p.$queryRaw<{ comment_id: bigint }[]>(knn(5));
    expect(rows.map((r) => BigInt(r.comment_id))).not.toContain(other.id);
  });
});
