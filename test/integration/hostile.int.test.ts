import {
  type GraphQLInputType,
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from 'graphql';
import type { App } from '../../src/app';
import { createApiKey } from '../../src/auth/api-keys';
import { MAX_ALIASES } from '../../src/graphql/guards';
import { loadTypeDefs } from '../../src/graphql/server';
import { backend, uid } from '../helpers/test-env';
import { type TestServer, startTestServer } from '../helpers/test-server';

/**
 * Malformed and malicious requests through the real HTTP server. Each must get the right 4xx status and code, a
 * message that says what is wrong, no internals, and write nothing; the server must stay healthy afterwards.
 */
jest.setTimeout(120_000);

type Who = 'reader' | 'writer' | 'admin' | 'none' | { raw: string };
interface Case {
  name: string;
  who?: Who;
  /** A string is sent as is; anything else as JSON. */
  body: unknown;
  headers?: Record<string, string>;
  status: number;
  code: string;
  message?: RegExp;
  /** An issue (row/field) the answer must list. */
  issue?: { row?: number; field: string };
}

const INGEST_C = 'mutation($rows: [CustomerInput!]!) { ingestCustomers(rows: $rows) { inserted } }';
const INGEST_T = 'mutation($rows: [TransactionInput!]!, $c: [CustomerInput!]) { ingestTransactions(rows: $rows, customers: $c) { inserted } }';
const INGEST_M = 'mutation($rows: [CommentInput!]!, $c: [CustomerInput!]) { ingestComments(rows: $rows, customers: $c) { inserted } }';
const PAGE = 'query($f: CustomerFilter) { customers(filter: $f, first: 5) { nodes { externalId } } }';

const cust = (over: Record<string, unknown> = {}) => ({ externalId: uid('h'), ...over });
const tx = (over: Record<string, unknown> = {}) => {
  const c = uid('h');
  return { query: INGEST_T, variables: { c: [{ externalId: c }], rows: [{ externalId: `${c}-t`, customerExternalId: c, occurredAt: '2024-03-01T12:00:00Z', amount: '10.00', ...over }] } };
};
const comment = (over: Record<string, unknown> = {}) => {
  const c = uid('h');
  return { query: INGEST_M, variables: { c: [{ externalId: c }], rows: [{ externalId: `${c}-m`, customerExternalId: c, createdAt: '2024-03-01T12:00:00Z', text: 'fine', ...over }] } };
};
const customers = (rows: unknown[]) => ({ query: INGEST_C, variables: { rows } });
const nested = (levels: number) => {
  let sel = 'id';
  for (let i = 0; i < levels; i++) sel = `transactions(first: 1) { nodes { customer { ${sel} } } }`;
  return `{ customer(externalId: "x") { ${sel} } }`;
};

const BAD = { status: 400, code: 'BAD_USER_INPUT' };
const cases: Case[] = [
  // Transport
  { name: 'invalid JSON', body: '{"query": "{ health { ok } }",', status: 400, code: 'INVALID_JSON' },
  { name: 'JSON that is not an object', body: '"{ health { ok } }"', status: 400, code: 'INVALID_JSON' },
  { name: 'no query', body: { variables: {} }, status: 400, code: 'BAD_REQUEST' },
  { name: 'query of the wrong type', body: { query: 42 }, status: 400, code: 'BAD_REQUEST' },
  { name: 'variables of the wrong type', body: { query: '{ health { ok } }', variables: 'x' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'text/plain body (CSRF)', body: '{"query":"{ health { ok } }"}', headers: { 'content-type': 'text/plain' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'body over 8 MB', body: { query: '{ health { ok } }', variables: { pad: 'x'.repeat(9 * 1024 * 1024) } }, status: 400, code: 'PAYLOAD_TOO_LARGE', message: /8mb/ },
  // Keys
  { name: 'no key', who: 'none', body: { query: '{ health { ok } }' }, status: 401, code: 'UNAUTHENTICATED', message: /missing API key/ },
  { name: 'malformed Authorization', who: { raw: 'Basic dXNlcjpwYXNz' }, body: { query: '{ health { ok } }' }, status: 401, code: 'UNAUTHENTICATED' },
  { name: 'empty bearer', who: { raw: 'Bearer ' }, body: { query: '{ health { ok } }' }, status: 401, code: 'UNAUTHENTICATED' },
  { name: 'forged key of the right shape', who: { raw: `Bearer vg_admin_${'A'.repeat(43)}` }, body: { query: '{ health { ok } }' }, status: 401, code: 'UNAUTHENTICATED', message: /invalid or revoked/ },
  { name: '10 kB key', who: { raw: `Bearer vg_admin_${'x'.repeat(10_000)}` }, body: { query: '{ health { ok } }' }, status: 401, code: 'UNAUTHENTICATED' },
  { name: 'SQL in the key', who: { raw: "Bearer vg_admin_' OR '1'='1" }, body: { query: '{ health { ok } }' }, status: 401, code: 'UNAUTHENTICATED' },
  { name: 'reader ingesting', who: 'reader', body: customers([cust()]), status: 403, code: 'FORBIDDEN' },
  { name: 'writer deleting', who: 'writer', body: { query: 'mutation { deleteCustomer(externalId: "x") { deleted } }' }, status: 403, code: 'FORBIDDEN' },
  // Shapes and types
  { name: 'rows not a list of objects', body: { query: INGEST_C, variables: { rows: 'x' } }, ...BAD },
  { name: 'birthYear as a string', body: customers([cust({ birthYear: '1990' })]), ...BAD },
  { name: 'quantity not an integer', body: tx({ quantity: 1.5 }), ...BAD },
  { name: 'amount as a boolean', body: tx({ amount: true }), ...BAD },
  { name: 'page size beyond Int', body: { query: 'query($n: Int) { customers(first: $n) { nodes { id } } }', variables: { n: 2 ** 31 } }, ...BAD },
  { name: 'unknown field in an input', body: customers([cust({ isAdmin: true })]), ...BAD },
  // Sizes
  { name: 'comment over 20,000 characters', body: comment({ text: 'x'.repeat(20_001) }), ...BAD, issue: { row: 0, field: 'text' } },
  { name: 'externalId over 200 characters', body: customers([cust({ externalId: 'x'.repeat(201) })]), ...BAD, issue: { row: 0, field: 'externalId' } },
  { name: '1 MB region', body: customers([cust({ region: 'r'.repeat(1_000_000) })]), ...BAD, issue: { row: 0, field: 'region' } },
  { name: '5,001 rows', body: customers(Array.from({ length: 5001 }, () => cust())), ...BAD, message: /at most 5000 rows/ },
  { name: '10,000 rows', body: customers(Array.from({ length: 10_000 }, () => cust())), ...BAD, message: /at most 5000 rows/ },
  { name: 'attributes over 16 KB', body: customers([cust({ attributes: { blob: 'x'.repeat(17_000) } })]), ...BAD, issue: { row: 0, field: 'attributes' } },
  // Query shapes
  { name: 'deeply nested query', body: { query: nested(6) }, status: 400, code: 'QUERY_TOO_DEEP' },
  { name: 'alias bomb', body: { query: `{ ${Array.from({ length: 150 }, (_, i) => `a${i}: customer(externalId: "x") { id }`).join(' ')} }` }, status: 400, code: 'QUERY_TOO_COMPLEX', message: /aliased fields/ },
  {
    name: 'aliases multiplied through a fragment',
    body: { query: `fragment G on Customer { ${Array.from({ length: 20 }, (_, i) => `t${i}: id`).join(' ')} } { ${Array.from({ length: 10 }, (_, i) => `c${i}: customer(externalId: "x") { ...G }`).join(' ')} }` },
    status: 400,
    code: 'QUERY_TOO_COMPLEX',
  },
  {
    name: 'token flood (conflicting fields)',
    body: { query: `{ ${Array.from({ length: 3000 }, (_, i) => `customers(first: ${i % 7}) { nodes { id } }`).join(' ')} }` },
    status: 400,
    code: 'GRAPHQL_PARSE_FAILED',
    message: /tokens/,
  },
  { name: 'huge page of nested pages', body: { query: '{ customers(first: 500) { nodes { transactions(first: 500) { nodes { id } } } } }' }, status: 400, code: 'QUERY_TOO_COMPLEX' },
  { name: 'two operations without a name', body: { query: 'query A { health { ok } } query B { health { ok } }' }, status: 400, code: 'OPERATION_RESOLUTION_FAILURE' },
  // Text PostgreSQL cannot store
  { name: 'NUL in a comment', body: comment({ text: 'before\u0000after' }), ...BAD, message: /NUL/ },
  { name: 'lone surrogate in an externalId', body: customers([cust({ externalId: 'ab\ud800c' })]), ...BAD, message: /surrogate/ },
  { name: 'NUL in an attributes key', body: customers([cust({ attributes: { 'k\u0000': 1 } })]), ...BAD, message: /NUL/ },
  { name: 'NUL in a filter', who: 'reader', body: { query: PAGE, variables: { f: { region: ['a\u0000'] } } }, ...BAD, message: /NUL/ },
  { name: 'lone surrogate in a lookup', who: 'reader', body: { query: 'query($x: String) { customer(externalId: $x) { id } }', variables: { x: '\udc00' } }, ...BAD },
  { name: 'NUL in a query literal', who: 'reader', body: { query: '{ customer(externalId: "a\\u0000b") { id } }' }, ...BAD, message: /NUL/ },
  // Numbers
  { name: 'amount NaN', body: tx({ amount: 'NaN' }), ...BAD, issue: { row: 0, field: 'amount' } },
  { name: 'amount Infinity', body: tx({ amount: 'Infinity' }), ...BAD, issue: { row: 0, field: 'amount' } },
  { name: 'amount 1e309 (a JSON number that is Infinity)', body: JSON.stringify(tx()).replace('"10.00"', '1e309'), ...BAD },
  { name: 'amount in exponent notation', body: tx({ amount: '1e5' }), ...BAD, issue: { row: 0, field: 'amount' } },
  { name: 'negative purchase', body: tx({ amount: '-5' }), ...BAD, issue: { row: 0, field: 'amount' } },
  { name: 'five decimals', body: tx({ amount: '1.00001' }), ...BAD, issue: { row: 0, field: 'amount' } },
  { name: 'fifteen integer digits', body: tx({ amount: '100000000000000' }), ...BAD, issue: { row: 0, field: 'amount' } },
  { name: 'birthYear negative', body: customers([cust({ birthYear: -1 })]), ...BAD, issue: { row: 0, field: 'birthYear' } },
  { name: 'quantity ten million', body: tx({ quantity: 10_000_000 }), ...BAD, issue: { row: 0, field: 'quantity' } },
  { name: 'NaN decimal filter', who: 'reader', body: { query: PAGE, variables: { f: { predictedClv: { min: 'NaN' } } } }, ...BAD },
  // Dates
  { name: 'year 0', body: tx({ occurredAt: '0000-01-01T00:00:00Z' }), ...BAD, issue: { row: 0, field: 'occurredAt' } },
  { name: 'year 10000', body: tx({ occurredAt: '10000-01-01T00:00:00Z' }), ...BAD, issue: { row: 0, field: 'occurredAt' } },
  { name: 'February 30th', body: tx({ occurredAt: '2024-02-30T00:00:00Z' }), ...BAD, issue: { row: 0, field: 'occurredAt' } },
  { name: 'offset +25:00', body: comment({ createdAt: '2024-01-01T00:00:00+25:00' }), ...BAD, issue: { row: 0, field: 'createdAt' } },
  { name: 'no time zone', body: tx({ occurredAt: '2024-01-01T00:00:00' }), ...BAD, issue: { row: 0, field: 'occurredAt' } },
  { name: 'two years ahead', body: tx({ occurredAt: `${new Date().getUTCFullYear() + 2}-01-01T00:00:00Z` }), ...BAD, issue: { row: 0, field: 'occurredAt' } },
  { name: 'year 0 in a filter', who: 'reader', body: { query: PAGE, variables: { f: { lastPurchase: { from: '0000-01-01T00:00:00Z' } } } }, ...BAD },
  { name: 'February 30th in a filter', who: 'reader', body: { query: PAGE, variables: { f: { lastPurchase: { to: '2023-02-30T00:00:00Z' } } } }, ...BAD },
];

async function send(url: string, keys: TestServer['keys'], c: Pick<Case, 'who' | 'body' | 'headers'>) {
  const who = c.who ?? 'writer';
  const auth = who === 'none' ? undefined : typeof who === 'object' ? who.raw : `Bearer ${keys[who]}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}), ...c.headers },
    body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body),
  });
  const text = await res.text();
  let json: { data?: unknown; errors?: { message: string; extensions?: { code?: string; issues?: { row?: number; field: string }[] } }[] } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** Row counts of every table: a rejected request must leave all of them as they were. */
async function tableCounts(app: App): Promise<Record<string, number>> {
  const tables = await app.db.prisma.$queryRaw<{ t: string }[]>`
    select table_name::text as t from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by 1`;
  const out: Record<string, number> = {};
  for (const { t } of tables) {
    if (t === 'api_keys') continue; // last_used_at may be touched by authentication; the count is checked below
    out[t] = Number((await app.db.prisma.$queryRawUnsafe<{ n: bigint }[]>(`select count(*) as n from "${t.replace(/"/g, '""')}"`))[0]!.n);
  }
  return out;
}

describe(`hostile input over HTTP on ${backend}`, () => {
  let server: TestServer;
  let before: Record<string, number>;
  let keyCount: number;

  beforeAll(async () => {
    server = await startTestServer({ overrides: { EMBEDDING_ALLOW_REMOTE: 'false' } });
    const { record } = await createApiKey(server.app.db.prisma, { name: 'revoked', role: 'admin' });
    await server.app.db.prisma.apiKey.update({ where: { id: record.id }, data: { revokedAt: new Date() } });
    before = await tableCounts(server.app);
    keyCount = await server.app.db.prisma.apiKey.count();
  }, 60_000);
  afterAll(() => server?.close());

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const r = await send(server.url, server.keys, c);
    expect([r.status, r.json?.errors?.[0]?.extensions?.code]).toEqual([c.status, c.code]);
    expect(r.json?.data ?? null).toBeNull();
    const message = r.json!.errors![0]!.message;
    expect(message.length).toBeGreaterThan(5);
    if (c.message) expect(message).toMatch(c.message);
    if (c.issue) expect(r.json!.errors![0]!.extensions!.issues).toContainEqual(expect.objectContaining(c.issue));
    expect(r.text).not.toMatch(/stacktrace|\.ts:\d+|node_modules|prisma|invalid input syntax|\bat [\w.]+ \(/i);
  });

  it('refuses a revoked key', async () => {
    const { key, record } = await createApiKey(server.app.db.prisma, { name: 'soon revoked', role: 'admin' });
    await server.app.db.prisma.apiKey.update({ where: { id: record.id }, data: { revokedAt: new Date() } });
    const r = await send(server.url, server.keys, { who: { raw: `Bearer ${key}` }, body: { query: '{ health { ok } }' } });
    expect([r.status, r.json?.errors?.[0]?.extensions?.code]).toEqual([401, 'UNAUTHENTICATED']);
    await server.app.db.prisma.apiKey.delete({ where: { id: record.id } });
  });

  it('wrote nothing, and the server still answers', async () => {
    expect(await tableCounts(server.app)).toEqual(before);
    expect(await server.app.db.prisma.apiKey.count()).toBe(keyCount);
    const base = server.url.replace(/\/graphql$/, '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const q = await send(server.url, server.keys, { who: 'reader', body: { query: '{ health { ok } customers(first: 1) { nodes { id } } }' } });
    expect([q.status, q.json?.errors]).toEqual([200, undefined]);
  });

  it(`allows up to ${MAX_ALIASES} aliases`, async () => {
    const query = `{ ${Array.from({ length: MAX_ALIASES }, (_, i) => `a${i}: health { ok }`).join(' ')} }`;
    const r = await send(server.url, server.keys, { who: 'reader', body: { query } });
    expect([r.status, r.json?.errors]).toEqual([200, undefined]);
  });

  it('stores Unicode edge cases verbatim: RTL, zero-width, combining marks, emoji, NFC and NFD apart', async () => {
    const odd = ['\u202Eevil.exe\u202C', 'zero\u200Bwidth\u2060joiner', 'family 👨‍👩‍👧‍👦 and 🏳️‍🌈', 'e\u0301 vs \u00E9', 'مرحبا بالعالم', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 中文 \uFEFFbom'];
    const base = uid('uni');
    const rows = odd.map((v, i) => ({ externalId: `${base}-${i}-${v}`, region: v, attributes: { [v]: v } }));
    // NFC and NFD spellings of one word are different ids: nothing is normalized behind the caller's back.
    rows.push({ externalId: `${base}-caf\u00E9`, region: 'nfc', attributes: {} }, { externalId: `${base}-cafe\u0301`, region: 'nfd', attributes: {} });
    const r = await send(server.url, server.keys, { body: customers(rows) });
    expect([r.status, r.json?.errors]).toEqual([200, undefined]);
    const text = odd.join(' | ');
    const m = await send(server.url, server.keys, { body: { query: INGEST_M, variables: { rows: [{ externalId: `${base}-m`, customerExternalId: rows[0]!.externalId, createdAt: '2024-01-01T00:00:00Z', text }] } } });
    expect([m.status, m.json?.errors]).toEqual([200, undefined]);
    for (const row of rows) {
      const got = await send(server.url, server.keys, {
        who: 'reader',
        body: { query: 'query($x: String) { customer(externalId: $x) { externalId region attributes comments { nodes { text } } } }', variables: { x: row.externalId } },
      });
      expect(got.json?.data).toMatchObject({ customer: { externalId: row.externalId, region: row.region, attributes: row.attributes } });
    }
    const withComment = await send(server.url, server.keys, { who: 'reader', body: { query: 'query($x: String) { customer(externalId: $x) { comments { nodes { text } } } }', variables: { x: rows[0]!.externalId } } });
    expect(withComment.json?.data).toEqual({ customer: { comments: { nodes: [{ text }] } } });
  });

  it('treats SQL-injection strings literally in every text field and every query argument', async () => {
    const inj = [
      "'; drop table customers; --",
      "x' or '1'='1",
      '" or ""="',
      "\\'; select pg_sleep(10); --",
      '$1; delete from transactions',
      '%',
      '_',
      "') union select external_id from api_keys --",
    ];
    const base = uid('sql');
    const ids = inj.map((v, i) => `${base}-${i}${v}`);
    const p = server.app.db.prisma;
    const counts = await tableCounts(server.app);
    const c = await send(server.url, server.keys, { body: customers(inj.map((v, i) => ({ externalId: ids[i], gender: v, region: v, attributes: { [v]: v } }))) });
    expect([c.status, c.json?.errors]).toEqual([200, undefined]);
    const t = await send(server.url, server.keys, {
      body: { query: INGEST_T, variables: { rows: inj.map((v, i) => ({ externalId: `${ids[i]}-t`, customerExternalId: ids[i], occurredAt: '2024-01-01T00:00:00Z', amount: '1', productId: v, category: v, description: v })) } },
    });
    const m = await send(server.url, server.keys, {
      body: { query: INGEST_M, variables: { rows: inj.map((v, i) => ({ externalId: `${ids[i]}-m`, customerExternalId: ids[i], createdAt: '2024-01-01T00:00:00Z', text: v })) } },
    });
    for (const r of [t, m]) expect([r.status, r.json?.errors]).toEqual([200, undefined]);
    const after = await tableCounts(server.app);
    for (const table of ['customers', 'transactions', 'comments']) expect([table, after[table]! - counts[table]!]).toEqual([table, inj.length]);

    for (const [i, v] of inj.entries()) {
      const stored = await p.transaction.findUniqueOrThrow({ where: { externalId: `${ids[i]}-t` }, include: { customer: true } });
      expect([stored.productId, stored.category, stored.description, stored.customer.region, stored.customer.gender, stored.customer.attributes]).toEqual([v, v, v, v, v, { [v]: v }]);
      expect((await p.comment.findUniqueOrThrow({ where: { externalId: `${ids[i]}-m` } })).text).toBe(v);
      // Filters match the literal value only: '%' and '_' are not wildcards.
      const page = await send(server.url, server.keys, { who: 'reader', body: { query: PAGE, variables: { f: { region: [v] } } } });
      expect(page.json?.data).toEqual({ customers: { nodes: [{ externalId: ids[i] }] } });
      const one = await send(server.url, server.keys, { who: 'reader', body: { query: 'query($x: String) { customer(externalId: $x) { externalId } }', variables: { x: ids[i] } } });
      expect(one.json?.data).toEqual({ customer: { externalId: ids[i] } });
    }

    // Every query the schema has, with the payload in every string, ID and enum-free input field it takes.
    const schema = buildSchema(loadTypeDefs());
    const fill = (type: GraphQLInputType, v: string, depth = 0): unknown => {
      if (isNonNullType(type)) return fill(type.ofType, v, depth);
      if (isListType(type)) return [fill(type.ofType, v, depth)];
      if (isEnumType(type)) return type.getValues()[0]!.value;
      if (isInputObjectType(type)) return depth > 2 ? {} : Object.fromEntries(Object.values(type.getFields()).map((f) => [f.name, fill(f.type, v, depth + 1)]));
      if (isScalarType(type)) return ({ Int: 1, Float: 0.5, Boolean: true, DateTime: '2024-01-01T00:00:00Z', JSON: { q: v }, Decimal: '1' } as Record<string, unknown>)[type.name] ?? v;
      return null;
    };
    const fields = Object.values(schema.getQueryType()!.getFields()).filter((f) => f.args.length > 0);
    expect(fields.map((f) => f.name)).toEqual(expect.arrayContaining(['customer', 'customers', 'jobRuns', 'models']));
    const snapshot = await tableCounts(server.app);
    for (const field of fields) {
      for (const v of inj) {
        const defs = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
        const sel = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
        const query = `query(${defs}) { ${field.name}(${field.args.map((a) => `${a.name}: $${a.name}`).join(', ')})${sel} }`;
        const variables = Object.fromEntries(field.args.map((a) => [a.name, fill(a.type, v)]));
        const r = await send(server.url, server.keys, { who: 'admin', body: { query, variables } });
        const code = r.json?.errors?.[0]?.extensions?.code;
        expect([field.name, v, r.status < 500 || code === 'UNAVAILABLE', code === 'INTERNAL']).toEqual([field.name, v, true, false]);
        expect(r.text).not.toMatch(/stacktrace|syntax error|\.ts:\d+|prisma/i);
      }
    }
    const del = await send(server.url, server.keys, { who: 'admin', body: { query: 'mutation($x: String!) { deleteCustomer(externalId: $x) { deleted } }', variables: { x: "x' or '1'='1" } } });
    expect(del.json?.data).toEqual({ deleteCustomer: { deleted: false } });
    // Reads may fill derived caches (feature snapshots, behaviour vectors); no table may lose rows, and the
    // tables holding what callers sent or decided must be exactly as they were.
    const end = await tableCounts(server.app);
    for (const [table, n] of Object.entries(snapshot)) expect([table, end[table]! >= n]).toEqual([table, true]);
    for (const table of ['customers', 'transactions', 'comments', 'job_runs', 'model_versions', 'model_champions', 'scores']) {
      expect([table, end[table]]).toEqual([table, snapshot[table]]);
    }
  });
});
