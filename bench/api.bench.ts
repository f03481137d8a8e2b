/**
 * GraphQL API benchmark (PostgreSQL via DATABASE_URL; uses its own database `<db>_bench_api` on that server).
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/valuegraph npx tsx bench/api.bench.ts [--customers 100000] [--seconds 10]
 *
 * 1. Batch ingest: ingestTransactions over HTTP (5,000-row batches) vs the same ingest service called directly
 *    in-process (baseline), rows/s and ratio.
 * 2. Reads at 10 connections (autocannon): `customer(externalId){ latestScore { clv } }` on random customers of
 *    100,000 vs the trivial `{ health { ok } }`, both served by one API process (a child process, so the load
 *    generator does not share its event loop); req/s, p99 and the ratio.
 */
import { type ChildProcess, fork } from 'node:child_process';
import os from 'node:os';
import autocannon from 'autocannon';
import { createApp } from '../src/app';
import { createApiKey } from '../src/auth/api-keys';
import { parseEnv } from '../src/config/env';
import { buildHttpServer } from '../src/graphql/server';
import { ingestTransactions } from '../src/ingest/ingest.service';
import { createLogger } from '../src/lib/logger';
import { ensureDatabase, siblingDatabaseUrl } from './lib/bench-db';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const CUSTOMERS = arg('customers', 100_000);
const SECONDS = arg('seconds', 10);
const CONNECTIONS = 10;

const benchUrl = () => siblingDatabaseUrl('bench_api');

async function openApp(url: string) {
  const env = parseEnv({ DATABASE_URL: url, LOG_LEVEL: 'silent', NODE_ENV: 'production', DATABASE_POOL_SIZE: '10' });
  return createApp(env, createLogger('silent'), { migrate: true, runJobs: false });
}

/** Child mode: serve the API and report the URL to the parent. */
async function serve(): Promise<void> {
  const app = await openApp(benchUrl());
  const http = await buildHttpServer(app);
  const { url } = await http.listen(0, '127.0.0.1');
  process.send!({ url });
  process.on('disconnect', () => void http.close().then(() => app.close()).then(() => process.exit(0)));
}

async function seed(app: Awaited<ReturnType<typeof openApp>>): Promise<void> {
  const p = app.db.prisma;
  const t0 = Date.now();
  await p.$executeRaw`insert into customers (external_id, region)
    select 'bench-' || g, (array['EU','US','APAC'])[1 + g % 3] from generate_series(1, ${CUSTOMERS}::int) g
    on conflict (external_id) do nothing`;
  let [champ] = await p.$queryRaw<{ id: number }[]>`select model_version_id as id from model_champions where kind = 'clv-forest'`;
  if (!champ) {
    const mv = await p.modelVersion.create({ data: { kind: 'clv-forest', status: 'ready', horizonDays: 365, cutoff: new Date('2024-01-01T00:00:00Z') } });
    await p.modelChampion.create({ data: { kind: 'clv-forest', modelVersionId: mv.id } });
    champ = { id: mv.id };
  }
  await p.$executeRaw`insert into scores (customer_id, model_version_id, clv, churn_risk, tier)
    select c.id, ${champ.id}::int, round((random() * 1000)::numeric, 4), random(), 'mid' from customers c
    where c.external_id like 'bench-%'
    on conflict (customer_id, model_version_id) do nothing`;
  await p.$executeRaw`analyze`;
  console.log(`seeded/verified ${CUSTOMERS} customers with champion scores in ${Date.now() - t0} ms`);
}

async function post(url: string, key: string, query: string, variables: unknown): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { errors?: unknown };
  if (res.status !== 200 || body.errors) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
  return body;
}

function txBatch(run: string, batch: number, size: number) {
  return Array.from({ length: size }, (_, i) => ({
    externalId: `${run}-${batch}-${i}`,
    customerExternalId: `bench-${1 + ((batch * size + i) % CUSTOMERS)}`,
    occurredAt: new Date(Date.UTC(2023, 0, 1) + ((batch * size + i) % 500) * 86_400_000).toISOString(),
    amount: ((i % 9_000) / 100 + 1).toFixed(2),
    description: 'bench line',
  }));
}

async function cannon(url: string, key: string, body: () => string) {
  const opts = {
    url,
    method: 'POST' as const,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    requests: [{ setupRequest: (req: any) => ({ ...req, body: body() }) }],
  };
  await autocannon({ ...opts, duration: 2 }); // warm-up (JIT, connection pool, plan cache)
  const r = await autocannon(opts);
  if (r.non2xx || r.errors) throw new Error(`autocannon: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) return serve();
  const url = benchUrl();
  await ensureDatabase(url);
  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}); load: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const app = await openApp(url);
  await seed(app);
  const key = (await createApiKey(app.db.prisma, { name: 'bench', role: 'admin' })).key;

  const child: ChildProcess = fork(__filename, ['--serve'], {
    // --cpu-prof DIR: the API process writes a V8 CPU profile there on exit (for finding per-request overhead).
    execArgv: ['--import', 'tsx', ...(process.argv.includes('--cpu-prof') ? ['--cpu-prof', '--cpu-prof-dir', process.argv[process.argv.indexOf('--cpu-prof') + 1]!] : [])],
    stdio: 'inherit',
  });
  const api = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`API process exited ${code}`)));
  });
  try {
    // 1. Ingest: baseline (service in-process) vs GraphQL over HTTP; fresh externalIds each run, 5 × 5,000 rows.
    const run = `b${Date.now().toString(36)}`;
    const BATCHES = 5;
    const SIZE = 5000;
    const mutation = `mutation($rows: [TransactionInput!]!) { ingestTransactions(rows: $rows) { inserted } }`;
    await ingestTransactions(app.db.prisma, txBatch(`${run}wd`, 0, SIZE)); // warm-up both paths
    await post(api, key, mutation, { rows: txBatch(`${run}wg`, 0, SIZE) });
    let t = performance.now();
    for (let b = 0; b < BATCHES; b++) await ingestTransactions(app.db.prisma, txBatch(`${run}d`, b, SIZE));
    const direct = (BATCHES * SIZE) / ((performance.now() - t) / 1000);
    t = performance.now();
    for (let b = 0; b < BATCHES; b++) await post(api, key, mutation, { rows: txBatch(`${run}g`, b, SIZE) });
    const viaGql = (BATCHES * SIZE) / ((performance.now() - t) / 1000);
    console.log(`ingest ${BATCHES}x${SIZE} transactions: service ${direct.toFixed(0)} rows/s (baseline), GraphQL ${viaGql.toFixed(0)} rows/s, ratio ${(viaGql / direct).toFixed(2)}`);

    // 2. Reads at 10 connections.
    await post(api, key, `{ customer(externalId: "bench-1") { latestScore { clv } } }`, {});
    const health = await cannon(api, key, () => JSON.stringify({ query: '{ health { ok } }' }));
    const q = 'query($x: String) { customer(externalId: $x) { latestScore { clv } } }';
    const score = await cannon(api, key, () => JSON.stringify({ query: q, variables: { x: `bench-${1 + Math.floor(Math.random() * CUSTOMERS)}` } }));
    console.log(`{ health { ok } } (baseline): ${health.rps.toFixed(0)} req/s, p50 ${health.p50} ms, p99 ${health.p99} ms`);
    console.log(`customer(externalId){ latestScore { clv } } on ${CUSTOMERS} customers: ${score.rps.toFixed(0)} req/s, p50 ${score.p50} ms, p99 ${score.p99} ms`);
    console.log(`ratio ${(score.rps / health.rps).toFixed(2)} (target >= 0.5), p99 ${score.p99} ms (target <= 20 ms); load after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    child.disconnect();
    await new Promise((r) => child.once('exit', r));
    await app.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
