import { LOAD_PREFIX, ROWS_PER_INGEST, formatTable, runMixedLoad, seedLoadData } from '../../bench/lib/load-mix';
import { backend } from '../helpers/test-env';
import { type TestServer, startTestServer } from '../helpers/test-server';

/**
 * CI's short run of bench/load.bench.ts: ten seconds of mixed dashboard reads and ingest mutations through the
 * real HTTP server. No timing thresholds (shared machines): every request must succeed, and every ingest that
 * was answered must be in the database, whole.
 */
jest.setTimeout(120_000);

describe(`mixed load, short mode, on ${backend}`, () => {
  let server: TestServer;
  const CUSTOMERS = 300;

  beforeAll(async () => {
    server = await startTestServer({ roles: ['reader', 'writer'] });
    await seedLoadData(server.app.db.prisma, CUSTOMERS);
  }, 60_000);
  afterAll(() => server?.close());

  it('answers every request without an error and loses no ingested row', async () => {
    const result = await runMixedLoad({ url: server.url, keys: server.keys, seconds: 10, connections: 10, customers: CUSTOMERS });
    process.stdout.write(`${formatTable(result)}\n`);
    for (const e of result.endpoints) {
      expect([e.name, e.requests > 0, e.non2xx, e.errors, e.graphqlErrors]).toEqual([e.name, true, 0, 0, 0]);
    }
    const p = server.app.db.prisma;
    const stored = await p.transaction.count({ where: { externalId: { startsWith: `${result.ingestRun}-` } } });
    // Requests cut off when the time is up may have committed without their answer being counted; never fewer.
    expect(stored).toBeGreaterThanOrEqual(result.ingestedRows);
    expect(stored % ROWS_PER_INGEST).toBe(0);
    expect(result.ingestedRows).toBeGreaterThan(0);
    expect(await p.customer.count({ where: { externalId: { startsWith: `${LOAD_PREFIX}-` } } })).toBe(CUSTOMERS);
    expect((await fetch(server.url.replace(/\/graphql$/, '/healthz'))).status).toBe(200);
  });
});
