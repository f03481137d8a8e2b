import IORedis from 'ioredis';
import { Client } from 'pg';

export default async function globalTeardown(): Promise<void> {
  const name = process.env.VG_TEST_DB_NAME;
  if (!name || process.env.VG_TEST_KEEP_DB) return;
  const c = new Client({ connectionString: process.env.VG_TEST_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' });
  await c.connect();
  // Files' own databases (test-env ownDatabase) are named after the run's.
  const own = await c.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`${name}\\_%`]);
  for (const d of [name, ...own.rows.map((r) => r.datname)]) await c.query(`drop database if exists ${d} with (force)`);
  await c.end();
  const redisUrl = process.env.VG_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = process.env.VG_TEST_QUEUE_PREFIX;
  if (prefix) {
    const r = new IORedis(redisUrl, { maxRetriesPerRequest: 1 });
    let cursor = '0';
    do {
      // Also the prefixes of files' own databases (`${prefix}<label>`).
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
    r.disconnect();
  }
}
