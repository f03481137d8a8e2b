import {
  type GraphQLInputType,
  type GraphQLSchema,
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
import { buildHttpServer, loadTypeDefs } from '../../src/graphql/server';
import { gql } from '../helpers/processes';
import { backend, uid } from '../helpers/test-env';
import { type TestServer, startTestServer } from '../helpers/test-server';

/** A syntactically valid value for a required argument, so the call reaches its resolver's role check. */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [];
  if (isEnumType(type)) return type.getValues()[0]!.value;
  if (isInputObjectType(type)) {
    return Object.fromEntries(Object.values(type.getFields()).filter((f) => isNonNullType(f.type)).map((f) => [f.name, sample(f.type)]));
  }
  if (isScalarType(type)) {
    return ({ Int: 1, Float: 1, Boolean: true, ID: '1', DateTime: '2024-01-01T00:00:00Z', JSON: {}, Decimal: '1' } as Record<string, unknown>)[type.name] ?? 'x';
  }
  return null;
}

function mutationCall(schema: GraphQLSchema, name: string): { query: string; variables: Record<string, unknown> } {
  const field = schema.getMutationType()!.getFields()[name]!;
  const required = field.args.filter((a) => isNonNullType(a.type));
  const defs = required.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const sel = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
  return {
    query: `mutation${defs ? `(${defs})` : ''} { ${name}${args ? `(${args})` : ''}${sel} }`,
    variables: Object.fromEntries(required.map((a) => [a.name, sample(a.type)])),
  };
}

const noLeak = (body: unknown) => {
  const s = JSON.stringify(body);
  expect(s).not.toMatch(/stacktrace|\.ts:\d+|node_modules|\bselect\b.*\bfrom\b|\binsert into\b|<html/i);
};

// The machine is shared and loaded; these are not timing tests.
jest.setTimeout(120_000);

describe(`GraphQL access control and guards on ${backend}`, () => {
  let server: TestServer;
  let app: App;
  let url: string;
  let keys: TestServer['keys'];
  const schema = buildSchema(loadTypeDefs());

  beforeAll(async () => {
    server = await startTestServer();
    ({ app, url, keys } = server);
  }, 60_000);
  afterAll(() => server?.close());

  it('refuses every mutation to a reader with 403 FORBIDDEN, and to anyone without a key with 401', async () => {
    const names = Object.keys(schema.getMutationType()!.getFields()).filter((n) => n !== '_noop');
    expect(names).toEqual(expect.arrayContaining(['ingestCustomers', 'ingestTransactions', 'ingestComments', 'deleteCustomer', 'createApiKey', 'revokeApiKey', 'runSelftest']));
    for (const name of names) {
      const { query, variables } = mutationCall(schema, name);
      const denied = await gql(url, keys.reader, query, variables);
      expect([name, denied.status, denied.body.errors?.[0]?.extensions?.code]).toEqual([name, 403, 'FORBIDDEN']);
      const anon = await gql(url, undefined, query, variables);
      expect([name, anon.status, anon.body.errors?.[0]?.extensions?.code]).toEqual([name, 401, 'UNAUTHENTICATED']);
    }
  });

  it('lets a writer ingest but not delete, manage keys or run jobs', async () => {
    for (const name of ['ingestCustomers', 'ingestTransactions', 'ingestComments']) {
      const { query, variables } = mutationCall(schema, name);
      const r = await gql(url, keys.writer, query, variables);
      expect([name, r.status, r.body.errors]).toEqual([name, 200, undefined]);
    }
    for (const name of ['deleteCustomer', 'createApiKey', 'revokeApiKey', 'runSelftest']) {
      const { query, variables } = mutationCall(schema, name);
      const r = await gql(url, keys.writer, query, variables);
      expect([name, r.status, r.body.errors?.[0]?.extensions?.code]).toEqual([name, 403, 'FORBIDDEN']);
    }
    expect((await gql(url, keys.writer, '{ apiKeys { id } }')).status).toBe(403);
    expect((await gql(url, keys.writer, '{ customers(first: 1) { nodes { id } } }')).status).toBe(200);
  });

  it('lets an admin create, list and revoke keys; a revoked key gets 401', async () => {
    const name = uid('key');
    const created = await gql(url, keys.admin, `mutation($n: String!) { createApiKey(name: $n, role: reader) { key apiKey { id name role prefix revokedAt } } }`, { n: name });
    expect(created.status).toBe(200);
    const { key, apiKey } = created.body.data.createApiKey;
    expect(apiKey).toMatchObject({ name, role: 'reader', revokedAt: null });
    expect(key.startsWith(apiKey.prefix)).toBe(true);
    expect((await gql(url, key, '{ health { ok } }')).status).toBe(200);
    const list = await gql(url, keys.admin, '{ apiKeys { id name } }');
    expect(list.body.data.apiKeys).toContainEqual({ id: apiKey.id, name });
    expect(JSON.stringify(list.body)).not.toContain(key);
    const revoked = await gql(url, keys.admin, `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`, { id: apiKey.id });
    expect(revoked.body.data.revokeApiKey.revokedAt).not.toBeNull();
    const after = await gql(url, key, '{ health { ok } }');
    expect([after.status, after.body.errors?.[0]?.extensions?.code]).toEqual([401, 'UNAUTHENTICATED']);
    const missing = await gql(url, keys.admin, `mutation { revokeApiKey(id: "999999999") { id } }`);
    expect([missing.status, missing.body.errors?.[0]?.extensions?.code]).toEqual([404, 'NOT_FOUND']);
    const bad = await gql(url, keys.admin, `mutation { createApiKey(name: "x", role: superuser) { key } }`);
    expect(bad.status).toBe(400);
  });

  it('rejects a too-deep query with 400 QUERY_TOO_DEEP before resolving', async () => {
    let sel = 'id';
    for (let i = 0; i < 5; i++) sel = `transactions(first: 1) { nodes { customer { ${sel} } } }`;
    const r = await gql(url, keys.reader, `{ customer(externalId: "nobody") { ${sel} } }`);
    expect([r.status, r.body.errors?.[0]?.extensions?.code]).toEqual([400, 'QUERY_TOO_DEEP']);
    // Through fragments as well.
    const frag = await gql(url, keys.reader, `fragment T on Transaction { customer { transactions(first: 1) { nodes { customer { transactions(first: 1) { nodes { customer { id } } } } } } } }
      { customer(externalId: "nobody") { transactions(first: 1) { nodes { ...T } } } }`);
    expect([frag.status, frag.body.errors?.[0]?.extensions?.code]).toEqual([400, 'QUERY_TOO_DEEP']);
  });

  it('rejects a too-complex query with 400 QUERY_TOO_COMPLEX, counting page sizes from variables too', async () => {
    const q = `query($n: Int) { customers(first: 500) { nodes { id transactions(first: $n) { nodes { id amount occurredAt } } } } }`;
    const r = await gql(url, keys.reader, q, { n: 200 });
    expect([r.status, r.body.errors?.[0]?.extensions?.code]).toEqual([400, 'QUERY_TOO_COMPLEX']);
    noLeak(r.body);
    expect((await gql(url, keys.reader, q, { n: 2 })).status).toBe(200);
  });

  it('answers an oversized body with 400 PAYLOAD_TOO_LARGE as JSON, and invalid JSON with 400 INVALID_JSON', async () => {
    const big = JSON.stringify({ query: '{ health { ok } }', variables: { pad: 'x'.repeat(9 * 1024 * 1024) } });
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.writer}` }, body: big });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('PAYLOAD_TOO_LARGE');
    noLeak(body);
    const broken = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.reader}` }, body: '{"query": "{ health { ok } }",' });
    expect(broken.status).toBe(400);
    const b2 = (await broken.json()) as { errors: { extensions: { code: string } }[] };
    expect(b2.errors[0]!.extensions.code).toBe('INVALID_JSON');
    noLeak(b2);
  });

  it('rejects batched operations, unknown fields and wrongly typed variables with 400 and no internals', async () => {
    const batch = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.reader}` },
      body: JSON.stringify([{ query: '{ health { ok } }' }, { query: '{ health { ok } }' }]),
    });
    expect(batch.status).toBe(400);
    noLeak(await batch.text());
    const unknown = await gql(url, keys.reader, '{ customers { nodes { passwordHash } } }');
    expect([unknown.status, unknown.body.errors?.[0]?.extensions?.code]).toEqual([400, 'GRAPHQL_VALIDATION_FAILED']);
    const wrongType = await gql(url, keys.reader, 'query($n: Int) { customers(first: $n) { nodes { id } } }', { n: 'ten' });
    expect([wrongType.status, wrongType.body.errors?.[0]?.extensions?.code]).toEqual([400, 'BAD_USER_INPUT']);
    const parse = await gql(url, keys.reader, '{ customers( }');
    expect([parse.status, parse.body.errors?.[0]?.extensions?.code]).toEqual([400, 'GRAPHQL_PARSE_FAILED']);
    const both = await gql(url, keys.reader, '{ customer(id: "1", externalId: "x") { id } }');
    expect([both.status, both.body.errors?.[0]?.extensions?.code]).toEqual([400, 'BAD_USER_INPUT']);
    for (const r of [unknown, wrongType, parse, both]) noLeak(r.body);
  });

  it('serves introspection and the landing page only when configured', async () => {
    const intro = '{ __schema { queryType { name } } }';
    const off = await gql(url, keys.reader, intro);
    expect(off.status).toBe(400);
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/<html/i);

    const open = await buildHttpServer({ ...app, env: { ...app.env, GRAPHQL_INTROSPECTION: true, GRAPHQL_LANDING_PAGE: true } } as App);
    try {
      const openUrl = (await open.listen(0, '127.0.0.1')).url;
      const on = await gql(openUrl, keys.reader, intro);
      expect(on.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      const landing = await fetch(openUrl, { headers: { accept: 'text/html' } });
      expect(landing.status).toBe(200);
      expect(await landing.text()).toMatch(/<html/i);
    } finally {
      await open.close();
    }
  });
});
