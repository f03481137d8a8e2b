/**
 * Scoring benchmark on PostgreSQL: N customers (default 100,000) with ~10 transactions each in a throw-away
 * database; a forest trained on a 10,000-customer sample is stored as champion, then `scoreCustomers` (the
 * models.score job body: stream histories, features, BG/NBD, forest, contributions, exact tiers, upserts) is
 * timed on one thread. Baseline in the same run: a plain `select` of every customer's transactions (the
 * unavoidable read), to show how much of the time is I/O.
 *
 *   npx tsx bench/score.bench.ts [--customers 100000] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
 */
import crypto from 'node:crypto';
import * as os from 'node:os';
import { Client } from 'pg';
import { openDb } from '../src/db/client';
import { loadAllHistories, MODEL_KIND } from '../src/models/training/train.service';
import { trainClvForest } from '../src/models/clv/clv-forest';
import { serializeForest } from '../src/models/forest';
import { scoreCustomers } from '../src/models/scoring/score.service';
import { seedCustomerHistories } from './lib/bench-db';
import { arg } from './lib/args';

const N = Number(arg('customers', '100000'));
const ADMIN = arg('admin-url', 'postgresql://postgres@127.0.0.1:5432/postgres');

async function main(): Promise<void> {
  const name = `vg_bench_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(ADMIN);
  url.pathname = `/${name}`;
  const db = await openDb({ databaseUrl: url.toString() });
  try {
    await db.migrate();
    const p = db.prisma;
    const now = new Date();
    let t0 = performance.now();
    await seedCustomerHistories(p, N, now);
    await p.$executeRaw`analyze`;
    const [countRow] = await p.$queryRaw<{ n: bigint }[]>`select count(*)::bigint as n from transactions`;
    const txns = countRow!.n;
    console.log(`cores ${os.cpus().length}, load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}; ${N} customers, ${txns} transactions (setup ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

    const sample = (await loadAllHistories(p, now)).filter((_, i) => i % Math.max(1, Math.floor(N / 10_000)) === 0);
    const model = trainClvForest(sample, now.getTime(), { horizonDays: 180, forest: { nEstimators: 100 } });
    const artifact = serializeForest(model.forest);
    const v = await p.modelVersion.create({
      data: {
        kind: MODEL_KIND, status: 'ready', horizonDays: 180, cutoff: now, featureNames: model.featureNames,
        params: { target: model.target, calibration: { ...model.calibration }, baselines: model.baselines as object },
        artifact: Buffer.from(artifact), artifactBytes: artifact.byteLength, trainingRows: model.trainingRows,
      },
    });

    t0 = performance.now();
    await p.$queryRaw`select customer_id, occurred_at, amount::float8, kind::text, product_id, category, quantity from transactions order by customer_id, occurred_at`;
    const readS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    let segStart = 0;
    const onProgress = (_: number, m: string) => {
      if (m.endsWith('segmenting')) segStart = performance.now();
    };
    const out = await scoreCustomers(p, { modelVersionId: v.id, onProgress });
    const scoreS = (performance.now() - t0) / 1000;
    const segS = (performance.now() - segStart) / 1000;
    console.log('| customers | transactions | read all transactions s (baseline) | scoreCustomers s | of which segments s | ratio | target |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|');
    console.log(`| ${out.scored} | ${txns} | ${readS.toFixed(1)} | ${scoreS.toFixed(1)} | ${segS.toFixed(1)} | ${(scoreS / readS).toFixed(1)}x | ≤ 60 s |`);
    // A partial re-score (features.refresh after an ingest): 100 customers scored, everyone re-segmented.
    const ids = (await p.$queryRaw<{ id: number }[]>`select id from customers order by id limit 100`).map((r) => r.id);
    t0 = performance.now();
    const part = await scoreCustomers(p, { modelVersionId: v.id, customerIds: ids, onProgress });
    const partS = (performance.now() - t0) / 1000;
    console.log(`\npartial re-score of ${part.scored} customers, ${part.segmented} re-segmented: ${partS.toFixed(1)} s (segments ${((performance.now() - segStart) / 1000).toFixed(1)} s)`);
  } finally {
    await db.close();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
