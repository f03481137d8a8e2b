/**
 * Event ingest through the CLI into PostgreSQL: `valuegraph import events FILE.ndjson`.
 *
 *   npx tsx bench/events-import.bench.ts [--events 500000] [--transactions 200000] [--customers 20000] [--batch-size 5000] [--repeat 1]
 *
 * Generates a synthetic clickstream (NDJSON, roughly in time order, 8 event types, 10% searches with query text,
 * categories and a small properties object) and, as the baseline measured in the same run, a generic NDJSON
 * transactions file for the same customers, imported by the same CLI the same way (`import transactions`). Each
 * import starts from an empty database (a temporary one created here, customers truncated before every run) and
 * runs as a real CLI process; its summary reports time excluding start-up. Figures: rows written per second and
 * the events/transactions ratio; also the dry run (parse + validate, no writes) and a re-import (all unchanged).
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

const ROOT = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
};
const N_EVENTS = Number(arg('events', '500000'));
const N_TX = Number(arg('transactions', '200000'));
const N_CUSTOMERS = Number(arg('customers', '20000'));
const BATCH = arg('batch-size', '5000');
const REPEAT = Number(arg('repeat', '1'));
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

async function cli(url: string, entity: string, file: string, extra: string[] = []): Promise<ImportSummary> {
  const r = await promisify(execFile)(
    path.join(ROOT, 'bin/valuegraph'),
    ['import', entity, file, '--batch-size', BATCH, '--json', '--no-progress', '--rejects', path.join(tmp, 'rejects.ndjson'), ...extra],
    { cwd: ROOT, env: childEnv(url), maxBuffer: 1 << 24 },
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

async function best(fn: () => Promise<ImportSummary>): Promise<ImportSummary> {
  let out: ImportSummary | undefined;
  for (let i = 0; i < REPEAT; i++) {
    const v = await fn();
    if (!out || v.seconds < out.seconds) out = v;
  }
  return out!;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const admin = process.env.VG_BENCH_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const name = `vg_bench_events_${crypto.randomBytes(4).toString('hex')}`;
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
    const dry = await best(() => cli(url, 'events', eventsFile, ['--dry-run']));
    const tx = await best(async () => (await truncate(url), cli(url, 'transactions', txFile)));
    const ev = await best(async () => (await truncate(url), cli(url, 'events', eventsFile)));
    const again = await best(() => cli(url, 'events', eventsFile));
    const rate = (s: ImportSummary, n: number) => n / s.seconds;
    const rows: [string, ImportSummary, number][] = [
      ['baseline: transactions import, empty database', tx, rate(tx, tx.inserted)],
      ['events --dry-run (parse + validate, no writes)', dry, rate(dry, dry.rowsValid)],
      ['events import, empty database', ev, rate(ev, ev.inserted)],
      ['events re-import (all unchanged)', again, rate(again, again.unchanged)],
    ];
    console.log('\n| run | rows | s | rows/s | ratio to transactions rows/s | peak RSS MB |');
    console.log('|---|---:|---:|---:|---:|---:|');
    const base = rows[0]![2];
    for (const [label, s, r] of rows) {
      console.log(`| ${label} | ${fmt(s.rowsValid)} | ${s.seconds.toFixed(2)} | ${fmt(r)} | ${(r / base).toFixed(2)}x | ${s.peakRssMb} |`);
    }
    console.log(`\nevents inserted ${fmt(ev.inserted)}, customers created ${fmt(ev.customersCreated)}, search texts to embed ${fmt(ev.searchesChanged)}; target ≥ 50,000 events/s: ${rate(ev, ev.inserted) >= 50_000 ? 'met' : 'not met'}`);
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
