import type { App } from '../../src/app';
import { gql } from '../helpers/processes';
import { backend, uid } from '../helpers/test-env';
import { type TestServer, startTestServer } from '../helpers/test-server';

const INGEST_CUSTOMERS = `mutation($rows: [CustomerInput!]!) { ingestCustomers(rows: $rows) { received inserted updated unchanged } }`;
const INGEST_TX = `mutation($rows: [TransactionInput!]!, $customers: [CustomerInput!]) {
  ingestTransactions(rows: $rows, customers: $customers) { received inserted updated unchanged customers { inserted } } }`;
const INGEST_COMMENTS = `mutation($rows: [CommentInput!]!, $customers: [CustomerInput!]) {
  ingestComments(rows: $rows, customers: $customers) { received inserted unchanged embeddingJob { id } } }`;
const PAGE = `query($filter: CustomerFilter, $orderBy: CustomerOrder, $first: Int, $after: String) {
  customers(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    edges { cursor node { externalId } } pageInfo { hasNextPage endCursor } } }`;

// The machine is shared and loaded; these are not timing tests.
jest.setTimeout(120_000);

describe(`GraphQL API over HTTP on ${backend}`, () => {
  let server: TestServer;
  let app: App;
  let url: string;
  let writer: string;
  let reader: string;
  let admin: string;

  beforeAll(async () => {
    server = await startTestServer();
    ({ app, url } = server);
    ({ writer, reader, admin } = server.keys);
  }, 60_000);
  afterAll(() => server?.close());

  it('ingests customers, transactions and comments; a repeated batch changes nothing', async () => {
    const c = uid('gc');
    const customers = [{ externalId: c, region: 'EU', attributes: { plan: 'gold' } }];
    const first = await gql(url, writer, INGEST_CUSTOMERS, { rows: customers });
    expect(first.status).toBe(200);
    expect(first.body.data.ingestCustomers).toEqual({ received: 1, inserted: 1, updated: 0, unchanged: 0 });
    expect((await gql(url, writer, INGEST_CUSTOMERS, { rows: customers })).body.data.ingestCustomers).toEqual({
      received: 1, inserted: 0, updated: 0, unchanged: 1,
    });

    const txs = [
      { externalId: `${c}-1`, customerExternalId: c, occurredAt: '2024-01-01T10:00:00Z', amount: '0.10' },
      { externalId: `${c}-2`, customerExternalId: c, occurredAt: '2024-02-01T10:00:00Z', amount: 0.2 },
      { externalId: `${c}-3`, customerExternalId: c, occurredAt: '2024-03-01T10:00:00Z', amount: '0.05', kind: 'refund' },
    ];
    expect((await gql(url, writer, INGEST_TX, { rows: txs })).body.data.ingestTransactions).toMatchObject({ inserted: 3 });
    const again = await gql(url, writer, INGEST_TX, { rows: txs });
    expect(again.body.data.ingestTransactions).toMatchObject({ received: 3, inserted: 0, updated: 0, unchanged: 3 });
    expect(await app.db.prisma.transaction.count({ where: { externalId: { startsWith: `${c}-` } } })).toBe(3);

    const comments = [{ externalId: `${c}-m`, customerExternalId: c, createdAt: '2024-02-02T00:00:00Z', text: 'Love it', source: 'review' }];
    const firstComments = (await gql(url, writer, INGEST_COMMENTS, { rows: comments })).body.data.ingestComments;
    expect(firstComments).toMatchObject({ inserted: 1 });
    // New comments queue embedding work for exactly those comments; an unchanged batch queues nothing.
    const run = await app.db.prisma.jobRun.findUniqueOrThrow({ where: { id: firstComments.embeddingJob.id } });
    const stored = await app.db.prisma.comment.findUniqueOrThrow({ where: { externalId: `${c}-m` } });
    expect(run).toMatchObject({ name: 'embeddings.embed-comments', payload: expect.objectContaining({ commentIds: [String(stored.id)] }) });
    expect((await gql(url, writer, INGEST_COMMENTS, { rows: comments })).body.data.ingestComments).toMatchObject({
      inserted: 0, unchanged: 1, embeddingJob: null,
    });

    const r = await gql(url, reader, `query($x: String) { customer(externalId: $x) {
        externalId region attributes
        stats { firstPurchaseAt lastPurchaseAt orderCount refundCount totalSpend averageOrderValue }
        transactions(first: 2) { nodes { externalId amount kind customer { externalId } } pageInfo { hasNextPage endCursor } }
        comments { nodes { text source } } } }`, { x: c });
    expect(r.status).toBe(200);
    const cu = r.body.data.customer;
    expect(cu).toMatchObject({ externalId: c, region: 'EU', attributes: { plan: 'gold' } });
    // 0.10 + 0.20 - 0.05 with no float drift; AOV over the 2 purchases.
    expect(cu.stats).toEqual({
      firstPurchaseAt: '2024-01-01T10:00:00.000Z', lastPurchaseAt: '2024-02-01T10:00:00.000Z',
      orderCount: 2, refundCount: 1, totalSpend: '0.2500', averageOrderValue: '0.1250',
    });
    expect(cu.transactions.nodes.map((t: { externalId: string }) => t.externalId)).toEqual([`${c}-3`, `${c}-2`]);
    expect(cu.transactions.nodes[0]).toMatchObject({ amount: '0.05', kind: 'refund', customer: { externalId: c } });
    expect(cu.transactions.pageInfo.hasNextPage).toBe(true);
    const next = await gql(url, reader, `query($x: String, $a: String) { customer(externalId: $x) {
        transactions(first: 2, after: $a) { nodes { externalId } pageInfo { hasNextPage } } } }`, { x: c, a: cu.transactions.pageInfo.endCursor });
    expect(next.body.data.customer.transactions).toEqual({ nodes: [{ externalId: `${c}-1` }], pageInfo: { hasNextPage: false } });
    expect(cu.comments.nodes).toEqual([{ text: 'Love it', source: 'review' }]);
  });

  it('rejects a batch with 3 bad rows: all 3 reported by row and field, 400, nothing written', async () => {
    const c = uid('gbad');
    await gql(url, writer, INGEST_CUSTOMERS, { rows: [{ externalId: c }] });
    const rows = [
      { externalId: `${c}-0`, customerExternalId: c, occurredAt: '2024-01-01T00:00:00Z', amount: '1' },
      { externalId: `${c}-1`, customerExternalId: c, occurredAt: '2024-01-01', amount: '1' },
      { externalId: `${c}-2`, customerExternalId: c, occurredAt: '2024-01-01T00:00:00Z', amount: '1.123456' },
      { externalId: `${c}-3`, customerExternalId: c, occurredAt: '2024-01-01T00:00:00Z', amount: '1' },
      { externalId: `${c}-4`, customerExternalId: c, occurredAt: '2024-01-01T00:00:00Z', amount: '1', kind: 'gift' },
    ];
    const r = await gql(url, writer, INGEST_TX, { rows });
    expect(r.status).toBe(400);
    const err = r.body.errors![0]! as unknown as { extensions: { code: string; issues: { row: number; field: string; message: string }[] } };
    expect(err.extensions.code).toBe('BAD_USER_INPUT');
    expect(err.extensions.issues.map((i) => [i.row, i.field])).toEqual([[1, 'occurredAt'], [2, 'amount'], [4, 'kind']]);
    expect(err.extensions.issues.every((i) => i.message.length > 0)).toBe(true);
    expect(await app.db.prisma.transaction.count({ where: { externalId: { startsWith: `${c}-` } } })).toBe(0);
  });

  it('accepts events for customers created in the same call, and rejects unknown ones without writing', async () => {
    const c = uid('gnew');
    const row = { externalId: `${c}-t`, customerExternalId: c, occurredAt: '2024-01-01T00:00:00Z', amount: '3.5' };
    const unknown = await gql(url, writer, INGEST_TX, { rows: [row] });
    expect(unknown.status).toBe(400);
    expect((unknown.body.errors![0] as any).extensions.issues).toEqual([{ row: 0, field: 'customerExternalId', message: `unknown customer "${c}"` }]);

    // A bad customer row rolls back the events too, and is reported under "customers.".
    const badCustomer = await gql(url, writer, INGEST_TX, { rows: [row], customers: [{ externalId: c, birthYear: 1800 }] });
    expect(badCustomer.status).toBe(400);
    expect((badCustomer.body.errors![0] as any).extensions.issues).toEqual([expect.objectContaining({ row: 0, field: 'customers.birthYear' })]);
    expect(await app.db.prisma.customer.count({ where: { externalId: c } })).toBe(0);

    const ok = await gql(url, writer, INGEST_TX, { rows: [row], customers: [{ externalId: c, region: 'US' }] });
    expect(ok.body.data.ingestTransactions).toMatchObject({ inserted: 1, customers: { inserted: 1 } });
    const comment = { externalId: `${c}-m`, customerExternalId: `${c}-2`, createdAt: '2024-01-02T00:00:00Z', text: 'hi' };
    const withCustomer = await gql(url, writer, INGEST_COMMENTS, { rows: [comment], customers: [{ externalId: `${c}-2` }] });
    expect(withCustomer.body.data.ingestComments).toMatchObject({ inserted: 1 });
    expect(await app.db.prisma.comment.count({ where: { externalId: `${c}-m` } })).toBe(1);
  });

  it('refuses more than 5,000 rows with a clear 400', async () => {
    const rows = Array.from({ length: 5001 }, (_, i) => ({ externalId: `big-${i}` }));
    const r = await gql(url, writer, INGEST_CUSTOMERS, { rows });
    expect(r.status).toBe(400);
    expect(r.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.message).toMatch(/at most 5000 rows/);
  });

  it('pages customers by keyset with no gaps or repeats while customers are inserted between pages', async () => {
    const region = uid('reg');
    const ids = Array.from({ length: 25 }, (_, i) => `${region}-${String(i).padStart(2, '0')}`);
    await gql(url, writer, INGEST_CUSTOMERS, { rows: ids.map((externalId) => ({ externalId, region })) });
    // Spend differs per customer (some equal, to exercise the id tie-break).
    const txs = ids.map((id, i) => ({ externalId: `${id}-t`, customerExternalId: id, occurredAt: `2024-01-${String((i % 28) + 1).padStart(2, '0')}T00:00:00Z`, amount: String(i % 7) }));
    await gql(url, writer, INGEST_TX, { rows: txs });

    for (const orderBy of [{ field: 'TOTAL_SPEND', direction: 'DESC' }, { field: 'RECENCY', direction: 'ASC' }, { field: 'ID', direction: 'ASC' }, { field: 'PREDICTED_CLV' }]) {
      const seen: string[] = [];
      const inserted: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 100; page++) {
        const r: any = await gql(url, reader, PAGE, { filter: { region: [region] }, orderBy, first: 4, after });
        expect(r.status).toBe(200);
        seen.push(...r.body.data.customers.edges.map((e: { node: { externalId: string } }) => e.node.externalId));
        // Between pages, insert a customer that sorts BEFORE the cursor (big, old purchase: an OFFSET page would
        // now repeat a row) and one that sorts after it (nothing bought).
        const extra = [`${region}-x${orderBy.field}${page}a`, `${region}-x${orderBy.field}${page}b`];
        inserted.push(...extra);
        await gql(url, writer, INGEST_TX, {
          customers: extra.map((externalId) => ({ externalId, region })),
          rows: [{ externalId: `${extra[0]}-t`, customerExternalId: extra[0], occurredAt: '2020-01-01T00:00:00Z', amount: '1000' }],
        });
        if (!r.body.data.customers.pageInfo.hasNextPage) break;
        after = r.body.data.customers.pageInfo.endCursor;
      }
      expect(new Set(seen).size).toBe(seen.length);
      // Every customer that existed before paging started is seen (exactly once, by the line above).
      for (const id of ids) expect(seen).toContain(id);
      ids.push(...inserted);
    }
  }, 120_000);

  it('orders and filters by the champion model score and returns latestScore', async () => {
    const p = app.db.prisma;
    const region = uid('sreg');
    const ext = [0, 1, 2, 3].map((i) => `${region}-${i}`);
    await gql(url, writer, INGEST_CUSTOMERS, { rows: ext.map((externalId) => ({ externalId, region })) });
    const customers = await p.customer.findMany({ where: { region }, orderBy: { externalId: 'asc' } });
    const previous = await p.modelChampion.findUnique({ where: { kind: 'clv-forest' } });
    const mv = await p.modelVersion.create({ data: { kind: 'clv-forest', status: 'ready', horizonDays: 365, cutoff: new Date('2024-06-01T00:00:00Z') } });
    const old = await p.modelVersion.create({ data: { kind: 'clv-forest', status: 'ready', horizonDays: 365, cutoff: new Date('2024-01-01T00:00:00Z') } });
    try {
      await p.modelChampion.upsert({ where: { kind: 'clv-forest' }, create: { kind: 'clv-forest', modelVersionId: mv.id }, update: { modelVersionId: mv.id } });
      const clv = ['100.5000', '20.0000', '300.2500'];
      for (const [i, v] of clv.entries()) {
        await p.score.create({ data: { customerId: customers[i]!.id, modelVersionId: mv.id, clv: v, churnRisk: i / 4, tier: i === 2 ? 'high' : 'low', segment: `seg-${i % 2}` } });
        // A non-champion version's score must never show up as the latest.
        await p.score.create({ data: { customerId: customers[i]!.id, modelVersionId: old.id, clv: '999999' } });
      }
      const one = await gql(url, reader, `query($x: String) { customer(externalId: $x) { score { clv } latestScore { clv churnRisk tier modelVersion { id kind isChampion } } } }`, { x: ext[2] });
      expect(one.body.data.customer.score).toEqual({ clv: '300.25' });
      expect(one.body.data.customer.latestScore).toEqual({ clv: '300.25', churnRisk: 0.5, tier: 'high', modelVersion: { id: String(mv.id), kind: 'clv-forest', isChampion: true } });
      const none = await gql(url, reader, `query($x: String) { customer(externalId: $x) { latestScore { clv } } }`, { x: ext[3] });
      expect(none.body.data.customer.latestScore).toBeNull();

      const byClv = await gql(url, reader, PAGE, { filter: { region: [region] }, orderBy: { field: 'PREDICTED_CLV', direction: 'DESC' }, first: 10 });
      expect(byClv.body.data.customers.edges.map((e: any) => e.node.externalId)).toEqual([ext[2], ext[0], ext[1], ext[3]]);
      const filtered = await gql(url, reader, PAGE, { filter: { region: [region], predictedClv: { min: '50' }, churnRisk: { max: 0.4 } } });
      expect(filtered.body.data.customers.edges.map((e: any) => e.node.externalId)).toEqual([ext[0]]);
      const tier = await gql(url, reader, PAGE, { filter: { region: [region], tier: ['high'] } });
      expect(tier.body.data.customers.edges.map((e: any) => e.node.externalId)).toEqual([ext[2]]);
      const seg = await gql(url, reader, PAGE, { filter: { region: [region], segment: ['seg-0'] }, orderBy: { field: 'PREDICTED_CLV', direction: 'ASC' } });
      expect(seg.body.data.customers.edges.map((e: any) => e.node.externalId)).toEqual([ext[0], ext[2]]);
      const list = await gql(url, reader, `{ customers(first: 500) { nodes { latestScore { clv } } } }`);
      expect(list.status).toBe(200);
    } finally {
      if (previous) await p.modelChampion.update({ where: { kind: 'clv-forest' }, data: { modelVersionId: previous.modelVersionId, promotedAt: previous.promotedAt } });
      else await p.modelChampion.delete({ where: { kind: 'clv-forest' } });
      await p.modelVersion.deleteMany({ where: { id: { in: [mv.id, old.id] } } });
    }
  });

  it('serves a page of customers with stats, score and history in a constant number of queries (no N+1)', async () => {
    const region = uid('n1');
    const ext = Array.from({ length: 30 }, (_, i) => `${region}-${i}`);
    await gql(url, writer, INGEST_TX, {
      customers: ext.map((externalId) => ({ externalId, region })),
      rows: ext.flatMap((id) => [1, 2, 3].map((k) => ({ externalId: `${id}-${k}`, customerExternalId: id, occurredAt: `2024-0${k}-01T00:00:00Z`, amount: String(k) }))),
    });
    await gql(url, writer, INGEST_COMMENTS, { rows: ext.map((id) => ({ externalId: `${id}-m`, customerExternalId: id, createdAt: '2024-01-01T00:00:00Z', text: 'ok' })) });
    const p = app.db.prisma as unknown as Record<string, unknown>;
    const counted = ['$queryRaw', '$queryRawUnsafe', '$executeRaw'];
    const delegates = ['customer', 'transaction', 'comment', 'score', 'modelVersion', 'modelChampion'];
    const spies = [
      ...counted.map((m) => jest.spyOn(p as any, m)),
      ...delegates.flatMap((d) => ['findMany', 'findUnique', 'findFirst'].map((m) => jest.spyOn(p[d] as any, m))),
    ];
    try {
      const r = await gql(url, reader, `query($r: [String!]) { customers(filter: { region: $r }, first: 30) { nodes {
          externalId stats { orderCount totalSpend } latestScore { clv }
          transactions(first: 2) { nodes { amount customer { externalId } } } comments { nodes { text } } } } }`, { r: [region] });
      expect(r.status).toBe(200);
      const nodes = r.body.data.customers.nodes;
      expect(nodes).toHaveLength(30);
      expect(nodes.every((n: any) => n.stats.orderCount === 3 && n.stats.totalSpend === '6.0000' && n.transactions.nodes.length === 2 && n.comments.nodes.length === 1)).toBe(true);
      const calls = spies.reduce((n, s) => n + s.mock.calls.length, 0);
      // key lookup + page (2) + stats + score + transactions (2) + comments (2) + customers of transactions: ~9, not 30 × 5.
      expect(calls).toBeLessThanOrEqual(12);
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });

  it('filters by last purchase date and rejects a cursor from another ordering', async () => {
    const region = uid('lp');
    await gql(url, writer, INGEST_TX, {
      customers: [{ externalId: `${region}-a`, region }, { externalId: `${region}-b`, region }],
      rows: [
        { externalId: `${region}-a1`, customerExternalId: `${region}-a`, occurredAt: '2023-05-01T00:00:00Z', amount: '1' },
        { externalId: `${region}-b1`, customerExternalId: `${region}-b`, occurredAt: '2024-05-01T00:00:00Z', amount: '1' },
      ],
    });
    const r = await gql(url, reader, PAGE, { filter: { region: [region], lastPurchase: { from: '2024-01-01T00:00:00Z' } } });
    expect(r.body.data.customers.edges.map((e: any) => e.node.externalId)).toEqual([`${region}-b`]);
    const p1 = await gql(url, reader, PAGE, { filter: { region: [region] }, first: 1, orderBy: { field: 'RECENCY' } });
    const wrong = await gql(url, reader, PAGE, { filter: { region: [region] }, first: 1, orderBy: { field: 'ID' }, after: p1.body.data.customers.pageInfo.endCursor });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    const garbage = await gql(url, reader, PAGE, { after: 'not-a-cursor' });
    expect(garbage.status).toBe(400);
  });

  it('deleteCustomer erases the customer and every row derived from them', async () => {
    const p = app.db.prisma;
    const c = uid('gdel');
    const keep = uid('gkeep');
    for (const ext of [c, keep]) {
      await gql(url, writer, INGEST_TX, { customers: [{ externalId: ext }], rows: [{ externalId: `${ext}-t`, customerExternalId: ext, occurredAt: '2024-01-01T00:00:00Z', amount: '5' }] });
      await gql(url, writer, INGEST_COMMENTS, { rows: [{ externalId: `${ext}-m`, customerExternalId: ext, createdAt: '2024-01-01T00:00:00Z', text: 'meh' }] });
    }
    const cust = await p.customer.findUniqueOrThrow({ where: { externalId: c } });
    const comment = await p.comment.findUniqueOrThrow({ where: { externalId: `${c}-m` } });
    const vec = `[${Array.from({ length: 384 }, () => 0.01).join(',')}]`;
    await p.$executeRaw`insert into comment_embeddings (comment_id, model, dim, text_hash, embedding) values (${comment.id}, 'm', 384, ${comment.textHash}, ${vec}::vector)`;
    await p.$executeRaw`insert into customer_profile_embeddings (customer_id, model, dim, embedding, comment_count, half_life_days) values (${cust.id}, 'm', 384, ${vec}::vector, 1, 90)`;
    await p.featureSnapshot.create({ data: { customerId: cust.id, featureSet: 'fs', asOf: new Date('2024-02-01T00:00:00Z'), values: { a: 1 } } });
    const mv = await p.modelVersion.create({ data: { kind: uid('k'), horizonDays: 90, cutoff: new Date('2024-01-01T00:00:00Z') } });
    await p.score.create({ data: { customerId: cust.id, modelVersionId: mv.id, clv: '12.5' } });

    const DELETE = `mutation($x: String!) { deleteCustomer(externalId: $x) { deleted rows } }`;
    expect((await gql(url, writer, DELETE, { x: c })).status).toBe(403);
    const r = await gql(url, admin, DELETE, { x: c });
    expect(r.status).toBe(200);
    expect(r.body.data.deleteCustomer.deleted).toBe(true);
    expect(r.body.data.deleteCustomer.rows).toMatchObject({ customers: 1, transactions: 1, comments: 1, comment_embeddings: 1, scores: 1, customer_profile_embeddings: 1 });
    // The seeded snapshot, plus the "now" one when the features.refresh requested by the ingest has already run.
    expect(r.body.data.deleteCustomer.rows.feature_snapshots).toBeGreaterThanOrEqual(1);

    // Every table with a customer_id column, whatever was added later, holds nothing for that id.
    const tables = await p.$queryRaw<{ t: string }[]>`
      select table_name::text as t from information_schema.columns where table_schema = current_schema() and column_name = 'customer_id'`;
    expect(tables.length).toBeGreaterThanOrEqual(5);
    for (const { t } of tables) {
      const [row] = await p.$queryRawUnsafe<{ n: bigint }[]>(`select count(*) as n from "${t}" where customer_id = $1`, cust.id);
      expect([t, Number(row!.n)]).toEqual([t, 0]);
    }
    expect(await p.customer.count({ where: { externalId: c } })).toBe(0);
    const [emb] = await p.$queryRaw<{ n: bigint }[]>`select count(*) as n from comment_embeddings where comment_id = ${comment.id}`;
    expect(Number(emb!.n)).toBe(0);
    // The other customer is untouched; deleting again is a no-op.
    expect(await p.transaction.count({ where: { externalId: `${keep}-t` } })).toBe(1);
    expect((await gql(url, admin, DELETE, { x: c })).body.data.deleteCustomer).toEqual({ deleted: false, rows: {} });
    await p.modelVersion.delete({ where: { id: mv.id } });
  });

  it('pages job runs newest first', async () => {
    const name = 'system.selftest';
    for (let i = 0; i < 3; i++) await app.queue.enqueue(name, { durationMs: 1 });
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 3; i++) {
      const r: any = await gql(url, reader, `query($a: String) { jobRuns(filter: { name: "system.selftest" }, first: 1, after: $a) { nodes { id name } pageInfo { hasNextPage endCursor } } }`, { a: after });
      expect(r.status).toBe(200);
      seen.push(r.body.data.jobRuns.nodes[0].id);
      after = r.body.data.jobRuns.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(3);
    const one = await gql(url, reader, `query($id: ID!) { jobRun(id: $id) { id state } }`, { id: seen[0] });
    expect(one.body.data.jobRun.id).toBe(seen[0]);
  });
});
