/**
 * Event ingest through the CLI into PostgreSQL: `valuegraph import events FILE.ndjson`.
 *
 *   npx tsx bench/events-import.bench.ts [--events 500000] [--transactions 200000] [--customers 20000] [--batch-size 5000] [--repeat 1]
 *     [--ab N] [--ab-only] [--ab-b 'IMPORT_EVENTS_CONNECTIONS=2']
 *   (VG_BENCH_PG_ADMIN_URL: server to use, default the local one; VG_BENCH_DB_PREFIX: name prefix of the temporary database)
 *
 * Generates a synthetic clickstream (NDJSON, roughly in time order, 8 event types, 10% searches with query text,
 * categories and a small properties object) and, as the baseline measured in the same run, a generic NDJSON
 * transactions file for the same customers, imported by the same CLI the same way (`import transactions`). Each
 * import starts from an empty database (a temporary one created here, customers truncated before every run) and
 * runs as a real CLI process; its summary reports time excluding start-up. Figures: rows written per second and
 * the events/transactions ratio; also the dry run (parse + validate, no writes) and a re-import (all unchanged).
 * The events import runs three times from an empty database: through COPY on one connection (what the CLI does on
 * PostgreSQL), through COPY over two connections (IMPORT_EVENTS_CONNECTIONS=2), and through the Prisma statement path
 * (IMPORT_EVENTS_COPY=false, what it did before and still does on PGlite), so the ratios come from one run on one
 * machine state.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { openDb } from '../src/db/client';
import { EVENT_TYPES } from '../src/events/events.schemas';
import type { ImportSummary } from '../src/ingest/import/import.runner';
import { Rng } from '../src/lib/random';
import { arg, argv } from './lib/args';

const ROOT = path.resolve(__dirname, '..');
const N_EVENTS = Number(arg('events', '500000'));
const N_TX = Number(arg('transactions', '200000'));
const N_CUSTOMERS = Number(arg('customers', '20000'));
const BATCH = arg('batch-size', '5000');
const REPEAT = Number(arg('repeat', '1'));
/** --ab N: afterwards, N alternating pairs of the two events paths from an empty database (medians printed). */
const AB = Number(arg('ab', '0'));
/** --ab-only: only those pairs (skips the table). */
const AB_ONLY = argv.includes('--ab-only');
/** --ab-b 'NAME=value,…': the environment of the B side of each pair (default the Prisma path). */
const AB_B = Object.fromEntries(
  arg('ab-b', 'IMPORT_EVENTS_COPY=false')
    .split(',')
    .map((kv) => kv.split('=') as [string, string]),
);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-events-bench-'));

const rng = new Rng(7);
const rnd = () => rng.next();
const pick = <T>(xs: readonly T[]) => rng.pick(xs);
/** Cumulative shares of EVENT_TYPES: mostly views, some searches, few social actions. */
const MIX = [0.5, 0.75, 0.85, 0.92, 0.95, 0.97, 0.98, 1];
const WORDS = ['red', 'blue', 'running', 'shoes', 'lamp', 'desk', 'cheap', 'gift', 'linen', 'sofa', 'kids', 'organic', 'coffee', 'mug', 'winter', 'coat'];
const CATEGORIES = Array.from({ length: 40 }, (_, i) => `cat-${i}`);
const START = Date.UTC(2023, 0, 1);
const SPAN_MS = 365 * 86_400_000;

async function writeLines(file: string, n: number, line: (i: number) => string): Promise<void> {
  const out = fs.createWriteStream(file);
  let buf = '';
  for (let i = 0; i < n; i++) {
    buf += `${line(i)}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  out.end(buf);
  await new Promise<void>((r) => out.on('close', () => r()));
}

function eventLine(i: number): string {
  const r = rnd();
  const type = EVENT_TYPES[MIX.findIndex((m) => r < m)]!;
  const e: Record<string, unknown> = {
    event_id: `ev-${i}`,
    customer_id: `c-${Math.floor(rnd() * N_CUSTOMERS)}`,
    occurred_at: new Date(START + Math.floor((i / N_EVENTS) * SPAN_MS) + Math.floor(rnd() * 60_000)).toISOString(),
    type,
  };
  if (type !== 'search' && type !== 'follow') {
    e.category = pick(CATEGORIES);
    e.product_id = `p-${Math.floor(rnd() * 5000)}`;
  }
  if (type === 'search') e.text = `${pick(WORDS)} ${pick(WORDS)}`;
  if (rnd() < 0.3) e.properties = { device: rnd() < 0.6 ? 'mobile' : 'desktop', referrer: pick(['ads', 'email', 'direct']) };
  return JSON.stringify(e);
}

function transactionLine(i: number): string {
  return JSON.stringify({
    transaction_id: `tx-${i}`,
    customer_id: `c-${Math.floor(rnd() * N_CUSTOMERS)}`,
    occurred_at: new Date(START + Math.floor((i / N_TX) * SPAN_MS)).toISOString(),
    amount: (5 + rnd() * 200).toFixed(2),
    quantity: 1 + Math.floor(rnd() * 4),
    product_id: `p-${Math.floor(rnd() * 5000)}`,
    category: pick(CATEGORIES),
  });
}

async function cli(url: string, entity: string, file: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ImportSummary> {
  const r = await promisify(execFile)(
    path.join(ROOT, 'bin/valuegraph'),
    ['import', entity, file, '--batch-size', BATCH, '--json', '--no-progress', '--rejects', path.join(tmp, 'rejects.ndjson'), ...extra],
    { cwd: ROOT, env: { ...childEnv(url), ...env }, maxBuffer: 1 << 24 },
  ).catch((e: { stdout?: string; stderr?: string; code?: number }) => {
    if (e.code === 2 && e.stdout) return e as { stdout: string };
    throw new Error(`import failed: ${e.stderr}`);
  });
  return JSON.parse(r.stdout) as ImportSummary;
}

/** No REDIS_URL: nothing is handed to BullMQ (the search-embedding run is only recorded), so no Redis is needed. */
function childEnv(url: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn', EMBEDDING_PROVIDER: 'none' };
  delete env.REDIS_URL;
  return env;
}

async function truncate(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query('truncate customers cascade');
  await c.query('vacuum analyze');
  await c.end();
}

type Run = ImportSummary & { pgCpuSeconds: number | null };

/**
 * CPU seconds the database's server processes spent while fn ran: its backends are polled every 100 ms and their
 * /proc counters read (a local server only; null otherwise). On a busy machine wall times stretch with the load,
 * CPU times much less: the figure to compare paths by.
 */
async function withServerCpu(admin: string, db: string, fn: () => Promise<ImportSummary>): Promise<Run> {
  const c = new Client({ connectionString: admin });
  await c.connect();
  const seen = new Map<number, [number, number]>(); // pid → [first, last] CPU ticks
  let readable = true;
  const ticks = (pid: number) => {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  const poll = async () => {
    const { rows } = await c.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [db]);
    for (const { pid } of rows) {
      try {
        const t = ticks(pid);
        const s = seen.get(pid);
        seen.set(pid, [s ? s[0] : t, t]);
      } catch {
        if (!fs.existsSync('/proc/self/stat')) readable = false;
      }
    }
  };
  await poll();
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      await poll().catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const out = await fn();
    stop = true;
    await loop;
    // Counted from the first sighting: a backend that connected between polls loses < 100 ms.
    const hz = 100;
    const total = [...seen.values()].reduce((a, [f, l]) => a + (l - f), 0) / hz;
    return { ...out, pgCpuSeconds: readable && seen.size ? total : null };
  } finally {
    stop = true;
    await c.end();
  }
}

async function best(fn: () => Promise<Run>): Promise<Run> {
  let out: Run | undefined;
  for (let i = 0; i < REPEAT; i++) {
    const v = await fn();
    if (!out || v.seconds < out.seconds) out = v;
  }
  return out!;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const admin = process.env.VG_BENCH_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  // VG_BENCH_DB_PREFIX: several people benchmarking on one server keep their databases apart.
  const name = `${process.env.VG_BENCH_DB_PREFIX ?? 'vg_bench_events'}_${crypto.randomBytes(4).toString('hex')}`;
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`VG_BENCH_DB_PREFIX: not a plain database name: ${name}`);
  const c = new Client({ connectionString: admin });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const url = u.toString();
  try {
    const db = await openDb({ databaseUrl: url });
    await db.migrate();
    await db.close();
    const eventsFile = path.join(tmp, 'events.ndjson');
    const txFile = path.join(tmp, 'transactions.ndjson');
    await writeLines(eventsFile, N_EVENTS, eventLine);
    await writeLines(txFile, N_TX, transactionLine);
    console.log(
      `cores ${os.cpus().length}, load average ${os.loadavg()[0]!.toFixed(2)}; ${fmt(N_EVENTS)} events (${(fs.statSync(eventsFile).size / 1e6).toFixed(1)} MB), ` +
        `${fmt(N_TX)} transactions, ${fmt(N_CUSTOMERS)} customers; batch size ${BATCH}; best of ${REPEAT}`,
    );
    async function table(measured: (f: () => Promise<ImportSummary>) => Promise<Run>, importEmpty: (env?: NodeJS.ProcessEnv) => Promise<Run>): Promise<void> {
      const dry = await measured(() => cli(url, 'events', eventsFile, ['--dry-run']));
      const tx = await best(async () => (await truncate(url), withServerCpu(admin, name, () => cli(url, 'transactions', txFile))));
      const ev = await best(() => importEmpty());
      const twoConnections = await best(() => importEmpty({ IMPORT_EVENTS_CONNECTIONS: '2' }));
      const again = await measured(() => cli(url, 'events', eventsFile));
      const prismaPath = await best(() => importEmpty({ IMPORT_EVENTS_COPY: 'false' }));
      const rate = (s: ImportSummary, n: number) => n / s.seconds;
      const rows: [string, Run, number][] = [
        ['baseline: transactions import, empty database', tx, rate(tx, tx.inserted)],
        ['events --dry-run (parse + validate, no writes)', dry, rate(dry, dry.rowsValid)],
        ['events import, empty database (COPY, one connection: the default)', ev, rate(ev, ev.inserted)],
        ['events import, empty database, COPY over two connections (IMPORT_EVENTS_CONNECTIONS=2)', twoConnections, rate(twoConnections, twoConnections.inserted)],
        ['events import, empty database, Prisma path (IMPORT_EVENTS_COPY=false)', prismaPath, rate(prismaPath, prismaPath.inserted)],
        ['events re-import (all unchanged)', again, rate(again, again.unchanged)],
      ];
      console.log('\n| run | rows | s | rows/s | ratio to transactions rows/s | peak RSS MB | CLI CPU s | PostgreSQL CPU s |');
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
      const base = rows[0]![2];
      for (const [label, s, r] of rows) {
        const pgCpu = s.pgCpuSeconds === null ? '-' : s.pgCpuSeconds.toFixed(1);
        console.log(`| ${label} | ${fmt(s.rowsValid)} | ${s.seconds.toFixed(2)} | ${fmt(r)} | ${(r / base).toFixed(2)}x | ${s.peakRssMb} | ${s.cpuSeconds.toFixed(1)} | ${pgCpu} |`);
      }
      console.log(`\nevents inserted ${fmt(ev.inserted)}, customers created ${fmt(ev.customersCreated)}, search texts to embed ${fmt(ev.searchesChanged)}; target ≥ 50,000 events/s: ${rate(ev, ev.inserted) >= 50_000 ? 'met' : 'not met'}`);
      const cpuRatio = ev.pgCpuSeconds && prismaPath.pgCpuSeconds ? `, PostgreSQL CPU ${(ev.pgCpuSeconds / prismaPath.pgCpuSeconds).toFixed(2)}x` : '';
      console.log(`COPY path / Prisma path, same run: rows/s ${(rate(ev, ev.inserted) / rate(prismaPath, prismaPath.inserted)).toFixed(2)}x${cpuRatio}`);
      console.log(`2 COPY connections / 1, same run: rows/s ${(rate(twoConnections, twoConnections.inserted) / rate(ev, ev.inserted)).toFixed(2)}x`);
    }
    const measured = (f: () => Promise<ImportSummary>) => best(() => withServerCpu(admin, name, f));
    const importEmpty = async (env: NodeJS.ProcessEnv = {}) => (await truncate(url), withServerCpu(admin, name, () => cli(url, 'events', eventsFile, [], env)));
    if (!AB_ONLY) await table(measured, importEmpty);
    if (AB > 0) {
      const pairs: [Run, Run][] = [];
      console.log(`\nA = default settings, B = ${JSON.stringify(AB_B)}`);
      console.log('\n| pair | A s | B s | A PostgreSQL CPU s | B PostgreSQL CPU s | A CLI CPU s | B CLI CPU s | load |');
      console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
      for (let i = 0; i < AB; i++) {
        const a = await importEmpty();
        const b = await importEmpty(AB_B);
        pairs.push([a, b]);
        const cpu = (r: Run) => (r.pgCpuSeconds === null ? '-' : r.pgCpuSeconds.toFixed(1));
        console.log(`| ${i + 1} | ${a.seconds.toFixed(2)} | ${b.seconds.toFixed(2)} | ${cpu(a)} | ${cpu(b)} | ${a.cpuSeconds.toFixed(1)} | ${b.cpuSeconds.toFixed(1)} | ${os.loadavg()[0]!.toFixed(1)} |`);
      }
      const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
      const ratio = (f: (r: Run) => number | null) => median(pairs.map(([a, b]) => (f(a) ?? NaN) / (f(b) ?? NaN))).toFixed(2);
      console.log(`median A/B ratio over ${AB} pairs: wall ${ratio((r) => r.seconds)}x, PostgreSQL CPU ${ratio((r) => r.pgCpuSeconds)}x, CLI CPU ${ratio((r) => r.cpuSeconds)}x`);
    }
    console.log(`load average at the end ${os.loadavg()[0]!.toFixed(2)}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    const d = new Client({ connectionString: admin });
    await d.connect();
    await d.query(`drop database if exists ${name} with (force)`);
    await d.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
