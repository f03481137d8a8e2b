/**
 * Scale-out benchmark: the same data in a fresh PostgreSQL database, the same jobs run by 1 and then 2 BullMQ
 * worker processes (JOB_CONCURRENCY=1 each, a fresh queue prefix per round): models.train with TRAIN fan-out =
 * workers (1 = the single-process job), models.score-fanout with shares = workers, embeddings.embed-fanout over
 * the comments with the MiniLM-shaped random-weight model (real inference cost). Prints wall times, the 2-vs-1
 * ratio, per-item costs for 10x/100x estimates, and the HNSW index size per 384-d vector.
 *
 *   npx tsx bench/scaleout.bench.ts [--customers 20000] [--comments 3000] [--trees 100] [--workers 1,2]
 *     [--model ../shared/models/random-minilm-l6-shape] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
 *     [--redis-url redis://127.0.0.1:6379] [--vectors 20000] [--jobs train,score,embed] [--db-prefix vg_bench]
 *     [--queue-prefix vgb] [--fanout k] [--shares k]
 * --workers 1,2,2,1 alternates rounds on the same data (the speed-up line compares the first two); --vectors 0
 * skips the HNSW probe.
 */
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { openDb } from '../src/db/client';
import { BullQueue } from '../src/jobs/bullmq.transport';
import { waitForRun } from '../src/jobs/wait';
import { createLogger } from '../src/lib/logger';
import { spawnEntry, type Proc } from '../test/helpers/processes';
import { seedCustomerHistories } from './lib/bench-db';
import { arg, argv } from './lib/args';

const N = Number(arg('customers', '20000'));
const COMMENTS = Number(arg('comments', '3000'));
const TREES = Number(arg('trees', '100'));
const WORKERS = arg('workers', '1,2').split(',').map(Number);
const VECTORS = Number(arg('vectors', '20000'));
const ADMIN = arg('admin-url', 'postgresql://postgres@127.0.0.1:5432/postgres');
const REDIS = arg('redis-url', 'redis://127.0.0.1:6379');
const JOBS = new Set(arg('jobs', 'train,score,embed').split(','));
const DB_PREFIX = arg('db-prefix', 'vg_bench');
// Training fan-out of every round (default: the round's worker count). `--fanout 2 --workers 1` times the flow's
// steps in one process: the per-tree cost without a second worker on the other core.
const FANOUT = argv.includes('--fanout') ? Number(arg('fanout', '0')) : undefined;
// Scoring shares of every round (default: the round's worker count); `--shares 2 --workers 1` times each range alone.
const SHARES = argv.includes('--shares') ? Number(arg('shares', '0')) : undefined;
const MODEL = path.resolve(arg('model', path.join(__dirname, '..', '..', 'shared', 'models', 'random-minilm-l6-shape')));

const s = (ms: number) => (ms / 1000).toFixed(1);
const load = () => os.loadavg().map((v) => v.toFixed(1)).join(' ');

async function main(): Promise<void> {
  const name = `${DB_PREFIX}_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(ADMIN);
  url.pathname = `/${name}`;
  const log = createLogger('warn');
  const db = await openDb({ databaseUrl: url.toString(), log });
  const procs: Proc[] = [];
  try {
    await db.migrate();
    const p = db.prisma;
    const now = new Date();
    await seedCustomerHistories(p, N, now);
    const words = ['late', 'parcel', 'great', 'quality', 'refund', 'size', 'love', 'broken', 'support', 'fast', 'price', 'again'];
    const texts = Array.from({ length: COMMENTS }, (_, i) => Array.from({ length: 8 + (i % 40) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' '));
    await p.$executeRaw`insert into comments (external_id, customer_id, created_at, source, language, text, text_hash)
      select 'bc' || r.i, 1 + (r.i % ${N}), now() - (r.i % 300) * interval '1 day', 'review', 'en', r.t, encode(sha256(convert_to(r.t, 'UTF8')), 'hex')
      from jsonb_to_recordset(${JSON.stringify(texts.map((t, i) => ({ i, t })))}::jsonb) as r(i int, t text)`;
    await p.$executeRaw`analyze`;
    const [tx] = await p.$queryRaw<{ n: bigint }[]>`select count(*)::bigint as n from transactions`;
    console.log(`cores ${os.cpus().length}, load ${load()}; ${N} customers, ${tx!.n} transactions, ${COMMENTS} comments; ${TREES} trees`);

    const cutoff = now.toISOString();
    const rows: string[] = [];
    const per: Record<string, number> = {};
    const rounds: Record<number, number> = {};
    for (const w of WORKERS) {
      const prefix = `${arg('queue-prefix', 'vgb')}${crypto.randomBytes(4).toString('hex')}`;
      // No default embedding model here: semantic features would try (and time out) downloading it in every job
      // thread, once per thread and minute, which charges the fan-out (more threads) for a network timeout.
      const env = { DATABASE_URL: url.toString(), REDIS_URL: REDIS, QUEUE_PREFIX: prefix, JOB_CONCURRENCY: '1', EMBEDDING_PROVIDER: 'none' };
      const mine = Array.from({ length: w }, () => spawnEntry('jobs/worker.ts', env));
      procs.push(...mine);
      await Promise.all(mine.map((m) => m.waitForLog(/bullmq worker started/)));
      const queue = new BullQueue({ db, log, redisUrl: REDIS, prefix, defaultMaxAttempts: 3 });
      let enqueuedAt = 0;
      // Repeated rounds (--workers 1,2,2,1) are averaged per worker count.
      const n = (rounds[w] = (rounds[w] ?? 0) + 1);
      const avg = (k: string, v: number) => (per[k] = ((per[k] ?? 0) * (n - 1) + v) / n);
      const timed = async (job: string, payload: unknown) => {
        const t0 = performance.now();
        const m0 = machineCpu();
        enqueuedAt = Date.now();
        const run = await queue.enqueue(job, payload);
        const done = await waitForRun(p, run.id, { timeoutMs: 3_600_000, pollMs: 100 });
        if (done.state !== 'completed') throw new Error(`${job} ${done.state}: ${done.error}`);
        const ms = performance.now() - t0;
        // Every process on the machine (workers, PostgreSQL, Redis, this script, anyone else): the cores a round
        // kept busy. One worker that already keeps more than one core busy (its PostgreSQL backend, GC threads)
        // cannot be doubled on two cores: the ceiling for 2 workers is 2 / this.
        const busy = (machineCpu() - m0) / (ms / 1000);
        console.log(`  ${w} workers, ${job}: ${s(ms)} s, machine CPU busy ${busy.toFixed(2)} of ${os.cpus().length} cores`);
        avg(`busy:${job}:${w}`, busy);
        return { ms, run: done };
      };
      // CPU seconds of the worker processes (all their threads) during the training: wall time on a shared machine
      // moves with everyone else's load, the work done does not.
      const cpu = () => mine.reduce((a, m) => a + cpuSeconds(m.child.pid!), 0);
      // Warm workers, as in production: a worker's first job loads the code into its job thread (seconds of CPU).
      await Promise.all(mine.map(async () => {
        const r = await queue.enqueue('system.selftest', { durationMs: 1500 });
        await waitForRun(p, r.id, { timeoutMs: 120_000, pollMs: 100 });
      }));
      const cpu0 = cpu();
      const train = await timed('models.train', { horizonDays: 180, cutoff, options: { force: true, score: false, nEstimators: TREES, fanout: FANOUT ?? w } });
      const trainingRows = (train.run.result as { trainingRows: number }).trainingRows;
      const trainCpu = cpu() - cpu0;
      console.log(`  ${w} workers: training ${s(train.ms)} s wall, ${trainCpu.toFixed(1)} CPU s in the workers, load ${load()}`);
      // Tree jobs that grew trees (a late one finds every chunk taken and completes without work).
      const all = await p.jobRun.findMany({ where: { name: 'models.train-trees', payload: { path: ['trainRunId'], equals: train.run.id } } });
      type TreesResult = { share: number; trees: number; skipped?: string; phasesMs?: Record<string, number> };
      const kids = all.filter((k) => ((k.result as TreesResult | null)?.trees ?? 0) > 0);
      const treeMs = kids.reduce((a, k) => a + ((k.result as TreesResult).phasesMs?.trees ?? 0), 0);
      const kidTrees = kids.reduce((a, k) => a + (k.result as TreesResult).trees, 0);
      if ((FANOUT ?? w) > 1) {
        // Every participant builds the rows itself, then all claim chunks of trees; the coordinator replays.
        const queued = all.length ? Math.min(...all.map((k) => k.createdAt.getTime())) : enqueuedAt;
        const lastKid = kids.length ? Math.max(...kids.map((k) => k.finishedAt!.getTime())) : queued;
        const result = train.run.result as { phasesMs?: unknown; treesGrownHere?: number };
        console.log(`  ${w} workers: tree jobs ${all.length} (${kids.length} grew trees: ${kidTrees}; the coordinator ${result.treesGrownHere ?? '?'}), ` +
          `last tree job done ${s(lastKid - queued)} s after queueing, then replay/promotion ${s(train.run.finishedAt!.getTime() - lastKid)} s`);
        const fmt = (o: unknown) => Object.entries((o as Record<string, number> | undefined) ?? {}).map(([k, v]) => `${k} ${s(v)}`).join(', ');
        console.log(`  coordinator steps (s): ${fmt(result.phasesMs)}`);
        for (const k of all) {
          const r = k.result as TreesResult | null;
          console.log(`  tree job ${r?.share ?? '?'}: started ${k.startedAt ? s(k.startedAt.getTime() - queued) : '–'} s after queueing, ${r?.trees ?? 0} trees${r?.skipped ? ` (${r.skipped})` : ''}; ${fmt(r?.phasesMs)}`);
        }
      }
      const skipped = { ms: Number.NaN };
      const score = JOBS.has('score') ? await timed('models.score-fanout', { shares: SHARES ?? w }) : skipped;
      if (JOBS.has('score') && (SHARES ?? w) > 1) {
        // Where the flow's time goes: the range jobs (in parallel) and the global finish after the last of them.
        const t0 = enqueuedAt;
        const ranges = await p.jobRun.findMany({ where: { name: 'models.score-range', createdAt: { gte: new Date(t0 - 1000) } }, orderBy: { createdAt: 'asc' } });
        const at = (d: Date | null) => (d ? s(d.getTime() - t0) : '–');
        const lastRange = Math.max(...ranges.map((r) => r.finishedAt?.getTime() ?? t0));
        // Then the segment jobs over the same ranges, then the step that completes the scoring run.
        const segs = await p.jobRun.findMany({ where: { name: 'models.score-segments', createdAt: { gte: new Date(t0 - 1000) } }, orderBy: { createdAt: 'asc' } });
        const lastSeg = Math.max(lastRange, ...segs.map((r) => r.finishedAt?.getTime() ?? t0));
        const run = 'run' in score ? (score as { run: { finishedAt: Date | null } }).run : undefined;
        console.log(`  ${w} workers, scoring timeline (s after enqueueing): ${ranges.map((r) => `range ${at(r.startedAt)}–${at(r.finishedAt)}`).join(', ')}; ` +
          `${segs.map((r) => `segments ${at(r.startedAt)}–${at(r.finishedAt)}`).join(', ')}; ` +
          `finish ${run?.finishedAt ? s(run.finishedAt.getTime() - lastRange) : '–'} s after the last range, ${run?.finishedAt ? s(run.finishedAt.getTime() - lastSeg) : '–'} s after the last segment job`);
      }
      await p.$executeRaw`delete from comment_embeddings`;
      const embed = !JOBS.has('embed') ? skipped : await timed('embeddings.embed-fanout', {
        shares: w,
        chunkSize: 64,
        refreshProfiles: false,
        config: { provider: 'transformers', model: MODEL, dim: 384, allowRemote: false, quantized: true, threads: 1, batchSize: 16 },
      });
      rows.push(`| ${w} | ${s(train.ms)} | ${kids.length ? s(treeMs / kids.length) : '–'} | ${s(score.ms)} | ${s(embed.ms)} | ${load()} |`);
      avg(`train${w}`, train.ms);
      avg(`score${w}`, score.ms);
      avg(`embed${w}`, embed.ms);
      avg(`cpu${w}`, trainCpu);
      if (w > 1 && kidTrees) per.treeMsPerTreePer1k = treeMs / kidTrees / (trainingRows / 1000);
      per.rows = trainingRows;
      await queue.close();
      await Promise.all(mine.map((m) => m.kill('SIGTERM')));
    }
    console.log('\n| workers | train s | mean tree-growing s per tree job | score s | embed s | load after |');
    console.log('|---:|---:|---:|---:|---:|---|');
    // Jobs left out with --jobs are NaN: shown as a dash.
    rows.forEach((r) => console.log(r.replaceAll('NaN', '–')));
    const [a, b] = WORKERS;
    if (a !== undefined && b !== undefined) {
      const r = (k: string) => dash(per[`${k}${a}`]! / per[`${k}${b}`]!, 2);
      const ceiling = (job: string) => dash(Math.min(b / a, os.cpus().length / per[`busy:${job}:${a}`]!), 2);
      console.log(`\nceiling on ${os.cpus().length} cores from the ${a}-worker rounds' busy cores: train ${ceiling('models.train')}x, score ${ceiling('models.score-fanout')}x`);
      console.log(`speed-up ${b} vs ${a} workers (mean of each's rounds): train ${r('train')}x, score ${r('score')}x, embed ${r('embed')}x; ` +
        `training CPU ${per[`cpu${a}`]!.toFixed(1)} s with ${a}, ${per[`cpu${b}`]!.toFixed(1)} s with ${b}`);
    }
    console.log(`\nper item (1 worker): training ${s(per[`train${a}`]!)} s for ${per.rows} rows x ${TREES} trees` +
      (per.treeMsPerTreePer1k ? `; trees alone ${per.treeMsPerTreePer1k.toFixed(1)} ms per tree per 1k rows (a tree job's mix of main and calibration trees)` : '') +
      `; scoring ${dash(per[`score${a}`]! / (N / 1000), 0)} ms per 1k customers; embedding ${dash(per[`embed${a}`]! / COMMENTS, 1)} ms per comment`);

    // HNSW size per vector: the index the migrations create, on VECTORS random unit vectors of 384 dimensions.
    if (VECTORS <= 0) return;
    await p.$executeRaw`create table hnsw_probe (id int primary key, embedding vector(384))`;
    await p.$executeRaw`insert into hnsw_probe select g, (select array_agg(random() - 0.5)::vector(384) from generate_series(1, 384) d where g > 0) from generate_series(1, ${VECTORS}) g`;
    const t0 = performance.now();
    await p.$executeRaw`create index hnsw_probe_idx on hnsw_probe using hnsw (embedding vector_cosine_ops)`;
    const buildMs = performance.now() - t0;
    const [sz] = await p.$queryRaw<{ heap: bigint; idx: bigint }[]>`select pg_table_size('hnsw_probe')::bigint as heap, pg_relation_size('hnsw_probe_idx')::bigint as idx`;
    const perVec = (v: bigint) => Number(v) / VECTORS;
    console.log(`\nHNSW (m=16, ef_construction=64 defaults) on ${VECTORS} x 384-d: index ${(Number(sz!.idx) / 2 ** 20).toFixed(1)} MiB ` +
      `(${perVec(sz!.idx).toFixed(0)} B/vector → ${((perVec(sz!.idx) * 1e6) / 2 ** 30).toFixed(2)} GiB per million), heap ${perVec(sz!.heap).toFixed(0)} B/vector ` +
      `(${((perVec(sz!.heap) * 1e6) / 2 ** 30).toFixed(2)} GiB per million); build ${s(buildMs)} s (${(buildMs / VECTORS).toFixed(2)} ms/vector)`);
  } finally {
    await Promise.all(procs.map((x) => x.kill('SIGKILL')));
    await db.close();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

/** utime + stime of a live process (all threads), from /proc (Linux). */
/** Busy CPU seconds of the whole machine so far (/proc/stat: everything but idle and iowait). */
function machineCpu(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, v) => a + v, 0) - f[3]! - f[4]!) / 100;
}

function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/** A figure, or a dash for a job the run left out (--jobs). */
function dash(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}
