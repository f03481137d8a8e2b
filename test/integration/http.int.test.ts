import type { App } from '../../src/app';
import { createApiKey } from '../../src/auth/api-keys';
import { gql } from '../helpers/processes';
import { backend } from '../helpers/test-env';
import { type TestServer, startTestServer } from '../helpers/test-server';

describe(`GraphQL over HTTP on ${backend}`, () => {
  let server: TestServer;
  let app: App;
  let url: string;
  let keys: TestServer['keys'];

  beforeAll(async () => {
    server = await startTestServer({ runJobs: true, roles: ['reader', 'admin'] });
    ({ app, url, keys } = server);
  }, 60_000);
  afterAll(() => server?.close());

  it('answers with the backends in use', async () => {
    const r = await gql(url, keys.reader, '{ health { ok database jobs } }');
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual({
      health: { ok: true, database: backend, jobs: backend === 'postgres' ? 'bullmq' : 'in-process' },
    });
  });

  it('refuses missing, forged and revoked keys with 401', async () => {
    expect((await gql(url, undefined, '{ health { ok } }')).status).toBe(401);
    const forged = await gql(url, 'vg_admin_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '{ health { ok } }');
    expect(forged.status).toBe(401);
    expect(forged.body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
    const { key, record } = await createApiKey(app.db.prisma, { name: 'temp', role: 'admin' });
    expect((await gql(url, key, '{ health { ok } }')).status).toBe(200);
    await app.db.prisma.apiKey.update({ where: { id: record.id }, data: { revokedAt: new Date() } });
    expect((await gql(url, key, '{ health { ok } }')).status).toBe(401);
  });

  it('refuses a reader on an admin mutation with 403 and runs it for an admin', async () => {
    const denied = await gql(url, keys.reader, 'mutation { runSelftest(durationMs: 1) { id } }');
    expect(denied.status).toBe(403);
    expect(denied.body.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    const ok = await gql(url, keys.admin, 'mutation { runSelftest(durationMs: 1) { id state } }');
    expect(ok.status).toBe(200);
    expect(ok.body.data.runSelftest.state).toBe('queued');
  });

  it('serves liveness and readiness', async () => {
    const base = url.replace(/\/graphql$/, '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true, checks: { database: 'ok', jobs: 'ok' } });
  });
});
