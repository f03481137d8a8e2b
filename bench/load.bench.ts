/**
 * Mixed load on loopback: dashboard reads (customer by externalId with its score, a filtered customers page,
 * models) and ingest mutations (new rows every request) against the real API process (src/main.ts) on PostgreSQL
 * and, when REDIS_URL is set, Redis. Reports per-endpoint counts, errors (must be 0), p50/p99, and the API's RSS
 * sampled every second: the mean of the last third against the middle third says whether memory is flat.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/valuegraph [REDIS_URL=redis://127.0.0.1:6379] \
 *     npx tsx bench/load.bench.ts [--duration 60] [--connections 20] [--customers 20000]
 *
 * Uses its own database `<db>_bench_load` on that server (created and migrated on first use).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../src/app';
import { createApiKey } from '../src/auth/api-keys';
import { parseEnv } from '../src/config/env';
import { createLogger } from '../src/lib/logger';
import { formatTable, runMixedLoad, seedLoadData } from './lib/load-mix';
import { ensureDatabase, siblingDatabaseUrl } from './lib/bench-db';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const DURATION = arg('duration', 60);
const CONNECTIONS = arg('connections', 20);
const CUSTOMERS = arg('customers', 20_000);
const ROOT = path.resolve(__dirname, '..');

const benchUrl = () => siblingDatabaseUrl('bench_load');

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

async function main(): Promise<void> {
  const url = benchUrl();
  await ensureDatabase(url);
  const env: Record<string, string> = { DATABASE_URL: url, LOG_LEVEL: 'warn', NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: 'vgbenchload' };
  if (process.env.REDIS_URL) env.REDIS_URL = process.env.REDIS_URL;
  const app = await createApp(parseEnv(env), createLogger('silent'), { migrate: true, runJobs: false });
  const t0 = Date.now();
  await seedLoadData(app.db.prisma, CUSTOMERS);
  await app.db.prisma.$executeRaw`analyze`;
  const keys = {
    reader: (await createApiKey(app.db.prisma, { name: 'load reader', role: 'reader' })).key,
    writer: (await createApiKey(app.db.prisma, { name: 'load writer', role: 'writer' })).key,
  };
  await app.close();
  console.log(`seeded ${CUSTOMERS} customers in ${Date.now() - t0} ms; ${os.cpus().length} cores; uptime load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  // The real entrypoint in its own process: the load generator never shares its event loop.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts')], { cwd: ROOT, env: { ...process.env, ...env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const api = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /"url":"([^"]+)".*GraphQL API listening/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`API exited ${code}: ${out.slice(-2000)}`)));
  });
  child.stdout!.resume();
  try {
    // Warm-up (JIT, pool, plan cache), then the measured run with RSS sampled every second.
    await runMixedLoad({ url: api, keys, seconds: Math.min(5, DURATION), connections: CONNECTIONS, customers: CUSTOMERS });
    const rss: number[] = [];
    const timer = setInterval(() => rss.push(rssMb(child.pid!)), 1000);
    const result = await runMixedLoad({ url: api, keys, seconds: DURATION, connections: CONNECTIONS, customers: CUSTOMERS });
    clearInterval(timer);
    const third = Math.floor(rss.length / 3);
    const middle = mean(rss.slice(third, 2 * third));
    const last = mean(rss.slice(2 * third));
    console.log(`\n${DURATION} s, ${CONNECTIONS} connections, ${process.env.REDIS_URL ? 'PostgreSQL + Redis' : 'PostgreSQL'}:`);
    console.log(formatTable(result));
    const total = result.endpoints.reduce((s, e) => s + e.requests, 0);
    const errors = result.endpoints.reduce((s, e) => s + e.non2xx + e.errors + e.graphqlErrors, 0);
    console.log(`total ${total} requests (${(total / DURATION).toFixed(0)} req/s), errors ${errors}, ${result.ingestedRows} transactions ingested`);
    console.log(`API RSS MB: min ${Math.min(...rss).toFixed(0)}, max ${Math.max(...rss).toFixed(0)}, middle third ${middle.toFixed(1)}, last third ${last.toFixed(1)} (${(((last - middle) / middle) * 100).toFixed(1)}%)`);
    console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    if (errors) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
