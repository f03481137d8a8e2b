/**
 * BI exports: `valuegraph export scores|segments|features --format csv|parquet` from PostgreSQL, run as real CLI
 * processes (times exclude process start-up; peak RSS is the CLI's own).
 *
 *   npx tsx bench/export.bench.ts [--customers 100000] [--small 25000] [--heap-cap 96] [--no-verify]
 *
 * Database: a temporary one on 127.0.0.1:5432 (VG_BENCH_PG_ADMIN_URL), created, filled with SQL
 * (generate_series: customers, champion scores, a completed scoring run with three segment kinds, current
 * feature snapshots) and dropped. Memory: every export runs first with `--small` customers (at least one
 * parquet row group, 25,000 rows), then with all of them; constant memory means about the same peak RSS for
 * both, and the widest exports (features, csv and parquet) also complete under `--max-old-space-size=<heap-cap>`. Round trip: each file is read back (csv-parse, hyparquet)
 * and compared value by value with the view.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse';
import { Client } from 'pg';
import { EXPORT_KINDS, EXPORT_VIEWS, type ExportColumn, type ExportKind, columnKind, selectList } from '../src/bi/export-columns';
import type { ExportFormat } from '../src/bi/export.sinks';
import type { ExportSummary } from '../src/bi/export.service';
import { openDb } from '../src/db/client';
import { FEATURE_NAMES, FEATURE_SET } from '../src/features/features.definitions';
import { importEsm } from '../src/lib/import-esm';
import { arg, argv } from './lib/args';

type Hyparquet = typeof import('hyparquet', { with: { 'resolution-mode': 'import' } });

const ROOT = path.resolve(__dirname, '..');
const N = Number(arg('customers', '100000'));
const SMALL = Number(arg('small', '25000'));
const HEAP_CAP_MB = Number(arg('heap-cap', '96'));
const VERIFY = !argv.includes('--no-verify');
const FORMATS: ExportFormat[] = ['csv', 'parquet'];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-export-bench-'));
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** Customers (from, to], with everything the three views read. Every 1000th external id needs CSV quoting. */
async function generate(c: Client, from: number, to: number, mv: number, run: number): Promise<void> {
  await c.query(
    `insert into customers (id, external_id, region, signup_date)
     select g, case when g % 1000 = 0 then 'cust ' || g || ', "vip"' else 'cust-' || g end,
       (array['north', 'south', 'east', 'west', '', null])[1 + g % 6], timestamptz '2020-01-01' + g * interval '1 minute'
     from generate_series($1::int + 1, $2::int) g`,
    [from, to],
  );
  await c.query(
    `insert into scores (customer_id, model_version_id, clv, p_alive, churn_risk, tier, segment, explanation)
     select g, $3, round((random() * 5000)::numeric, 4), p, 1 - p,
       (array['top_1', 'top_5', 'top_10', 'top_25', 'top_50', 'rest'])[1 + g % 6], (array['champions', 'loyal', 'lost'])[1 + g % 3], '[]'
     from generate_series($1::int + 1, $2::int) g, lateral (select random() as p) r`,
    [from, to, mv],
  );
  await c.query(
    `insert into customer_segments (scoring_run_id, customer_id, kind, name)
     select $3, g, k.kind, k.kind || '_' || (g % 5) from generate_series($1::int + 1, $2::int) g
     cross join (values ('value_tier'), ('rfm'), ('churn_risk')) k(kind)`,
    [from, to, run],
  );
  // Feature names are checked identifiers (src/bi/features-view.sql.ts), safe as JSON keys in SQL text.
  const obj = FEATURE_NAMES.map((n) => `'${n}', round((random() * 1000)::numeric, 6)::float8`).join(', ');
  await c.query(
    `insert into feature_snapshots (customer_id, feature_set, as_of, is_current, values)
     select g, $3, now(), true, jsonb_build_object(${obj}) from generate_series($1::int + 1, $2::int) g`,
    [from, to, FEATURE_SET],
  );
}

interface Run extends ExportSummary {
  wall: number;
}

async function cli(url: string, kind: ExportKind, format: ExportFormat, out: string, nodeOptions = ''): Promise<Run> {
  const t = process.hrtime.bigint();
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn', NODE_OPTIONS: nodeOptions };
  delete env.REDIS_URL;
  const r = await promisify(execFile)(path.join(ROOT, 'bin/valuegraph'), ['export', kind, '--format', format, '--out', out, '--json', '--no-progress'], {
    cwd: ROOT,
    env,
    maxBuffer: 1 << 24,
  });
  return { ...(JSON.parse(r.stdout) as ExportSummary), wall: Number(process.hrtime.bigint() - t) / 1e9 };
}

/** Column metadata as the export sees it, via information_schema. */
async function columnsOf(c: Client, view: string): Promise<ExportColumn[]> {
  const r = await c.query(
    `select column_name::text as column_name, data_type::text as data_type, numeric_precision::int as numeric_precision, numeric_scale::int as numeric_scale
     from information_schema.columns where table_schema = 'bi' and table_name = $1 order by ordinal_position`,
    [view],
  );
  return r.rows.map(columnKind);
}

function same(col: ExportColumn, got: unknown, want: unknown): boolean {
  if (want === null) return got === null || got === undefined;
  switch (col.kind) {
    case 'decimal':
      return typeof got === 'string' ? got === want : (got as number).toFixed(col.scale) === want;
    case 'timestamp':
      return new Date(got as string).getTime() === (want as Date).getTime();
    case 'int32':
    case 'int64':
    case 'double':
      return Number(got) === Number(want);
    default:
      return got === want;
  }
}

/** Reads the file back and compares it with the view, row by row in customer_id order; returns mismatches. */
async function verify(c: Client, kind: ExportKind, format: ExportFormat, file: string): Promise<number> {
  const view = EXPORT_VIEWS[kind];
  const cols = await columnsOf(c, view);
  const want = (await c.query(`select ${selectList(cols)} from bi.${view} order by customer_id`)).rows as Record<string, unknown>[];
  let got: Record<string, unknown>[] = [];
  if (format === 'csv') {
    const parser = fs.createReadStream(file).pipe(parse({ columns: true, cast: (v, ctx) => (ctx.quoting || v !== '' ? v : null) }));
    for await (const r of parser) got.push(r as Record<string, unknown>);
  } else {
    const hp = await importEsm<Hyparquet>('hyparquet');
    got = (await hp.parquetReadObjects({ file: await hp.asyncBufferFromFile(file) })) as Record<string, unknown>[];
  }
  let bad = Math.abs(got.length - want.length);
  for (let i = 0; i < Math.min(got.length, want.length); i++) for (const col of cols) if (!same(col, got[i]![col.name], want[i]![col.name])) bad++;
  return bad;
}

async function main(): Promise<void> {
  const admin = process.env.VG_BENCH_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const name = `vg_bench_export_${crypto.randomBytes(4).toString('hex')}`;
  const a = new Client({ connectionString: admin });
  await a.connect();
  await a.query(`create database ${name}`);
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const url = u.toString();
  const c = new Client({ connectionString: url });
  try {
    const db = await openDb({ databaseUrl: url });
    await db.migrate();
    await db.close();
    await c.connect();
    const mv = (await c.query(`insert into model_versions (kind, status, horizon_days, cutoff) values ('clv-forest', 'ready', 365, now()) returning id`)).rows[0].id as number;
    await c.query(`insert into model_champions (kind, model_version_id) values ('clv-forest', $1)`, [mv]);
    const run = (
      await c.query(`insert into scoring_runs (model_version_id, status, "full", customer_count, finished_at) values ($1, 'completed', true, $2, now()) returning id`, [mv, N])
    ).rows[0].id as number;

    const results: { size: number; kind: ExportKind; format: ExportFormat; r: Run; bad: number | null }[] = [];
    let have = 0;
    for (const size of [SMALL, N]) {
      const t = Date.now();
      await generate(c, have, size, mv, run);
      have = size;
      await c.query('vacuum analyze');
      console.error(`generated ${fmt(size)} customers in ${((Date.now() - t) / 1000).toFixed(1)} s (cumulative)`);
      for (const kind of EXPORT_KINDS) {
        for (const format of FORMATS) {
          const out = path.join(tmp, `${kind}-${size}.${format}`);
          const r = await cli(url, kind, format, out);
          const bad = VERIFY ? await verify(c, kind, format, out) : null;
          results.push({ size, kind, format, r, bad });
          console.error(`${kind} ${format} ${fmt(size)}: ${r.seconds.toFixed(2)} s, peak RSS ${r.peakRssMb} MB, mismatches ${bad ?? 'not checked'}`);
          fs.rmSync(out, { force: true });
        }
      }
    }
    const capped: string[] = [];
    for (const format of FORMATS) {
      const out = path.join(tmp, `capped.${format}`);
      const r = await cli(url, 'features', format, out, `--max-old-space-size=${HEAP_CAP_MB}`).catch((e: Error) => e);
      capped.push(
        r instanceof Error
          ? `features ${format}, ${fmt(N)} customers, --max-old-space-size=${HEAP_CAP_MB}: FAILED (${r.message.split('\n')[0]})`
          : `features ${format}, ${fmt(N)} customers, --max-old-space-size=${HEAP_CAP_MB}: completed in ${r.seconds.toFixed(2)} s, peak RSS ${r.peakRssMb} MB`,
      );
      fs.rmSync(out, { force: true });
    }

    const [load] = os.loadavg();
    console.log(`cores ${os.cpus().length}, load average ${load!.toFixed(2)}; PostgreSQL ${(await c.query('show server_version')).rows[0].server_version}`);
    console.log('| export | customers | columns | s (excl. start-up) | rows/s | MB written | peak RSS MB | round trip |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---|');
    for (const { size, kind, format, r, bad } of results) {
      const rt = bad === null ? 'not checked' : bad === 0 ? `equal (${fmt(r.rows)} rows)` : `${bad} mismatches`;
      console.log(`| ${kind} ${format} | ${fmt(size)} | ${r.columns} | ${r.seconds.toFixed(2)} | ${fmt(r.rows / r.seconds)} | ${fmt(r.bytes / 1e6, 1)} | ${r.peakRssMb} | ${rt} |`);
    }
    for (const line of capped) console.log(line);
  } finally {
    await c.end().catch(() => {});
    await a.query(`drop database if exists ${name} with (force)`);
    await a.end();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
