import type { App } from '../../src/app';
import { ingestComments, ingestCustomers, ingestTransactions } from '../../src/ingest/ingest.service';
import { DomainError } from '../../src/lib/errors';
import { backend, openTestApp, uid } from '../helpers/test-env';

describe(`batch ingest on ${backend}`, () => {
  let app: App;
  beforeAll(async () => {
    app = await openTestApp({}, { runJobs: false });
  }, 60_000);
  afterAll(() => app?.close());

  it('upserts by externalId: a repeated batch changes nothing, a changed row is updated', async () => {
    const p = app.db.prisma;
    const c = uid('cust');
    const customers = [{ externalId: c, region: 'UK', attributes: { tier: 'x' } }];
    expect(await ingestCustomers(p, customers)).toMatchObject({ inserted: 1, updated: 0, unchanged: 0 });
    const before = await p.customer.findUniqueOrThrow({ where: { externalId: c } });
    expect(await ingestCustomers(p, customers)).toMatchObject({ inserted: 0, updated: 0, unchanged: 1 });
    expect((await p.customer.findUniqueOrThrow({ where: { externalId: c } })).updatedAt).toEqual(before.updatedAt);

    const txs = [
      { externalId: `${c}-1`, customerExternalId: c, occurredAt: '2024-01-01T10:00:00+02:00', amount: '0.10' },
      { externalId: `${c}-2`, customerExternalId: c, occurredAt: '2024-01-02T10:00:00Z', amount: '0.20' },
    ];
    expect(await ingestTransactions(p, txs)).toMatchObject({ inserted: 2 });
    expect(await ingestTransactions(p, txs)).toMatchObject({ inserted: 0, unchanged: 2 });
    expect(await ingestTransactions(p, [{ ...txs[0], amount: '0.30' }])).toMatchObject({ updated: 1 });
    const rows = await p.transaction.findMany({ where: { customer: { externalId: c } }, orderBy: { occurredAt: 'asc' } });
    expect(rows.map((r) => r.amount.toString())).toEqual(['0.3', '0.2']);
    expect(rows[0]!.occurredAt.toISOString()).toBe('2024-01-01T08:00:00.000Z');
    // Decimal sums stay exact (0.1 + 0.2 is 0.30000000000000004 in floats).
    const [sum] = await p.$queryRaw<{ s: string }[]>`select sum(amount)::text as s from transactions t join customers c on c.id = t.customer_id where c.external_id = ${c}`;
    expect(sum!.s).toBe('0.5000');
    expect((await p.customer.findUniqueOrThrow({ where: { externalId: c } })).featuresStaleAt).not.toBeNull();
  });

  it('re-embeds only new or re-worded comments', async () => {
    const p = app.db.prisma;
    const c = uid('cust');
    await ingestCustomers(p, [{ externalId: c }]);
    const comment = { externalId: `${c}-m`, customerExternalId: c, createdAt: '2024-02-01T00:00:00Z', text: 'Great shop', source: 'review' };
    const first = await ingestComments(p, [comment]);
    expect(first.changedCommentIds).toHaveLength(1);
    expect((await ingestComments(p, [comment])).changedCommentIds).toHaveLength(0);
    expect((await ingestComments(p, [{ ...comment, text: 'Great shop!' }])).changedCommentIds).toEqual(first.changedCommentIds);
  });

  it('rejects a batch with unknown customers or bad rows and writes nothing', async () => {
    const p = app.db.prisma;
    const c = uid('cust');
    await ingestCustomers(p, [{ externalId: c }]);
    const count = () => p.transaction.count({ where: { externalId: { startsWith: `${c}-` } } });
    const err = await ingestTransactions(p, [
      { externalId: `${c}-ok`, customerExternalId: c, occurredAt: '2024-01-01T00:00:00Z', amount: '5' },
      { externalId: `${c}-bad`, customerExternalId: `${c}-nobody`, occurredAt: '2024-01-01T00:00:00Z', amount: '5' },
    ]).catch((e) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err.details.issues).toEqual([{ row: 1, field: 'customerExternalId', message: `unknown customer "${c}-nobody"` }]);
    expect(await count()).toBe(0);
  });

  it('keeps parameters out of SQL: hostile strings are stored verbatim', async () => {
    const p = app.db.prisma;
    const evil = `x'); drop table customers; --${uid()}`;
    await ingestCustomers(p, [{ externalId: evil, region: "' or 1=1 --", attributes: { note: '"}]); delete from customers; --' } }]);
    const row = await p.customer.findUniqueOrThrow({ where: { externalId: evil } });
    expect(row.region).toBe("' or 1=1 --");
    expect(await p.customer.count()).toBeGreaterThan(0);
  });
});
