import crypto from 'node:crypto';
import fs from 'node:fs';
import { buildSchema, isNonNullType } from 'graphql';
import type { App } from '../../src/app';
import { createApiKey, hashKey } from '../../src/auth/api-keys';
import { quoteIdent } from '../../src/customers/erase.service';
import { loadTypeDefs } from '../../src/graphql/server';
import { type Proc, gql, spawnEntry } from '../helpers/processes';
import { backend, openTestApp, testEnv, uid } from '../helpers/test-env';

/**
 * Privacy, end to end on real processes: at info level nothing personal (comment text, birth year, gender,
 * region, attributes) and no API key reaches the logs of the API or the worker, through ingest, queries, jobs
 * and failing requests; every request is logged once with its id; erasure leaves nothing in any table that
 * refers to the customer, including tables added after this test was written.
 */
jest.setTimeout(180_000);

const tag = crypto.randomBytes(4).toString('hex');
const SECRET = {
  comment: `my card number is 4111-SECRET-${tag}`,
  gender: `GENDER-${tag}`,
  region: `REGION-${tag}`,
  attrKey: `ATTRKEY-${tag}`,
  attrValue: `ATTRVAL-${tag}`,
  birthYear: 1931,
};

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every (table, column) that points at a customer: customer_id columns and any foreign key to customers. */
async function customerColumns(app: App): Promise<[string, string][]> {
  const rows = await app.db.prisma.$queryRaw<{ t: string; c: string }[]>`
    select c.table_name::text as t, c.column_name::text as c from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = current_schema() and c.column_name = 'customer_id' and t.table_type = 'BASE TABLE'
    union
    select cl.relname::text, a.attname::text from pg_constraint k
    join pg_class cl on cl.oid = k.conrelid
    join pg_attribute a on a.attrelid = k.conrelid and a.attnum = any(k.conkey)
    where k.contype = 'f' and k.confrelid = 'customers'::regclass
    order by 1, 2`;
  return rows.map((r) => [r.t, r.c]);
}

describe(`privacy on ${backend}: logs, keys and erasure`, () => {
  const env = testEnv({ PORT: '0', EMBEDDING_ALLOW_REMOTE: 'false' }).raw;
  const open = () => openTestApp(backend === 'pglite' ? { DATA_DIR: env.DATA_DIR! } : {}, { runJobs: false });
  const procs: Proc[] = [];
  const keys: Record<string, string> = {};
  let url = '';
  const ext = uid('priv');
  let customerId = 0;

  beforeAll(async () => {
    const setup = await open();
    try {
      for (const role of ['reader', 'writer', 'admin'] as const) keys[role] = (await createApiKey(setup.db.prisma, { name: `privacy ${role}`, role })).key;
      const revoked = await createApiKey(setup.db.prisma, { name: 'privacy revoked', role: 'admin' });
      await setup.db.prisma.apiKey.update({ where: { id: revoked.record.id }, data: { revokedAt: new Date() } });
      keys.revoked = revoked.key;
    } finally {
      await setup.close();
    }
    const api = spawnEntry('src/main.ts', env);
    procs.push(api);
    url = String((await api.waitForLog(/GraphQL API listening/)).url);
    if (backend === 'postgres') {
      const worker = spawnEntry('jobs/worker.ts', env);
      procs.push(worker);
      await worker.waitForLog(/bullmq worker started/);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    if (backend === 'pglite') fs.rmSync(env.DATA_DIR!, { recursive: true, force: true });
  });

  it('logs no personal data and no key at info level, and one line with its id per request', async () => {
    const customer = { externalId: ext, birthYear: SECRET.birthYear, gender: SECRET.gender, region: SECRET.region, attributes: { [SECRET.attrKey]: SECRET.attrValue } };
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.writer}`, 'x-request-id': `trace-${tag}` },
      body: JSON.stringify({
        query: 'mutation($c: [CustomerInput!], $r: [CommentInput!]!) { ingestComments(rows: $r, customers: $c) { inserted } }',
        variables: { c: [customer], r: [{ externalId: `${ext}-m`, customerExternalId: ext, createdAt: '2024-05-01T00:00:00Z', text: SECRET.comment }] },
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(`trace-${tag}`);
    const tx = await gql(url, keys.writer, 'mutation($r: [TransactionInput!]!) { ingestTransactions(rows: $r) { inserted } }', {
      r: [{ externalId: `${ext}-t`, customerExternalId: ext, occurredAt: '2024-05-02T00:00:00Z', amount: '19.99', description: SECRET.comment }],
    });
    expect(tx.body.errors).toBeUndefined();

    // Reads, including every query that takes an externalId (fills whatever caches they keep).
    const read = await gql(url, keys.reader, 'query($x: String) { customer(externalId: $x) { id birthYear gender region attributes comments { nodes { text } } } }', { x: ext });
    customerId = Number(read.body.data.customer.id);
    expect(read.body.data.customer).toMatchObject({ gender: SECRET.gender, comments: { nodes: [{ text: SECRET.comment }] } });
    await gql(url, keys.reader, 'query($r: [String!]) { customers(filter: { region: $r }) { nodes { externalId } } }', { r: [SECRET.region] });
    await gql(url, keys.reader, 'query($t: String!) { searchComments(text: $t) { text } }', { t: SECRET.comment });
    const schema = buildSchema(loadTypeDefs());
    for (const f of Object.values(schema.getQueryType()!.getFields())) {
      const arg = f.args.find((a) => a.name === 'externalId');
      if (!arg || f.args.some((a) => a !== arg && isNonNullType(a.type))) continue;
      await gql(url, keys.admin, `query($x: ${arg.type.toString()}) { ${f.name}(externalId: $x) { __typename } }`, { x: ext });
    }

    // Failing requests that carry personal data and keys.
    const bad = await gql(url, keys.writer, 'mutation($r: [CommentInput!]!) { ingestComments(rows: $r) { inserted } }', {
      r: [{ externalId: `${ext}-bad`, customerExternalId: ext, createdAt: '2024-02-30T00:00:00Z', text: SECRET.comment }],
    });
    expect(bad.status).toBe(400);
    for (const key of [keys.revoked!, `${keys.admin!.slice(0, -4)}AAAA`]) expect((await gql(url, key, '{ health { ok } }')).status).toBe(401);
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.writer}` }, body: `{"query": "${SECRET.comment}` });

    // A job over the customer's data, then erasure.
    const run = await gql(url, keys.admin, 'mutation { refreshFeatures { id } }');
    const id = run.body.data.refreshFeatures.id;
    await poll(() => gql(url, keys.admin, 'query($id: ID!) { jobRun(id: $id) { state } }', { id }), (r) => ['completed', 'failed'].includes(r.body.data?.jobRun?.state));
    const erased = await gql(url, keys.admin, 'mutation($x: String!) { deleteCustomer(externalId: $x) { deleted rows } }', { x: ext });
    expect(erased.body.data.deleteCustomer).toMatchObject({ deleted: true, rows: { customers: 1, comments: 1, transactions: 1 } });
    expect(erased.body.data.deleteCustomer.rows.feature_snapshots).toBeGreaterThanOrEqual(1);

    await Promise.all(procs.map((p) => p.kill('SIGTERM')));
    const logs = procs.map((p) => p.output()).join('\n');
    const lines = logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(10);
    const forbidden = [SECRET.comment, SECRET.gender, SECRET.region, SECRET.attrKey, SECRET.attrValue, `"birthYear":${SECRET.birthYear}`, 'birth_year', '4111-SECRET'];
    for (const k of Object.values(keys)) forbidden.push(k, k.slice(-20), hashKey(k));
    for (const s of forbidden) expect([s, logs.includes(s)]).toEqual([s, false]);
    // Structured request lines: our id, status and duration, and never a body.
    const mine = lines.filter((l) => l.requestId === `trace-${tag}`);
    expect(mine).toContainEqual(expect.objectContaining({ msg: 'request', method: 'POST', path: '/graphql', status: 200 }));
    expect(lines.filter((l) => l.msg === 'request').every((l) => typeof l.requestId === 'string' && typeof l.ms === 'number')).toBe(true);
  });

  it('erasure left no row in any table that refers to the customer', async () => {
    const app = await open();
    try {
      const cols = await customerColumns(app);
      expect(cols.map(([t]) => t)).toEqual(expect.arrayContaining(['transactions', 'comments', 'feature_snapshots', 'scores']));
      // Nothing for the erased id, and no table (with or without a foreign key) holds orphans of any customer.
      for (const [t, c] of cols) {
        const [mine] = await app.db.prisma.$queryRawUnsafe<{ n: bigint }[]>(`select count(*) as n from ${quoteIdent(t)} where ${quoteIdent(c)} = $1`, customerId);
        expect([t, c, Number(mine!.n)]).toEqual([t, c, 0]);
        const [row] = await app.db.prisma.$queryRawUnsafe<{ n: bigint }[]>(
          `select count(*) as n from ${quoteIdent(t)} x where x.${quoteIdent(c)} is not null and not exists (select 1 from customers k where k.id = x.${quoteIdent(c)})`,
        );
        expect([t, c, Number(row!.n)]).toEqual([t, c, 0]);
      }
      expect(await app.db.prisma.customer.count({ where: { externalId: ext } })).toBe(0);
      expect(await app.db.prisma.comment.count({ where: { externalId: { startsWith: ext } } })).toBe(0);
    } finally {
      await app.close();
    }
  });
});
