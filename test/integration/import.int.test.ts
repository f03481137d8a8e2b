import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { App } from '../../src/app';
import { runImport } from '../../src/ingest/import/import.runner';
import { backend, openTestApp, testEnv, uid } from '../helpers/test-env';

const ROOT = path.resolve(__dirname, '../..');
const readRejects = (f: string) =>
  fs
    .readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { line: number; lines?: number[]; issues: { field: string; message: string }[] });

describe(`bulk import on ${backend}`, () => {
  let app: App;
  let dir: string;
  beforeAll(async () => {
    app = await openTestApp({}, { runJobs: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-import-int-'));
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('imports good lines, rejects bad ones by line and field, creates unknown customers, and re-imports as a no-op', async () => {
    const p = app.db.prisma;
    const c = uid('imp');
    const cust = path.join(dir, `${c}-customers.csv`);
    fs.writeFileSync(cust, `customer_id,birth_year,region,tier\n${c}-a,1980,UK,gold\n${c}-b,nineteen,DE,silver\n${c}-c,,FR,\n`);
    const cs = await runImport(p, { entity: 'customers', file: cust });
    expect(cs).toMatchObject({ linesRead: 3, rowsValid: 2, inserted: 2, rejectedLines: 1 });
    expect(readRejects(cs.rejectsFile)).toEqual([
      { line: 3, issues: [{ field: 'birth_year', message: expect.any(String) }], record: { customer_id: `${c}-b`, birth_year: 'nineteen', region: 'DE', tier: 'silver' } },
    ]);
    expect((await p.customer.findUniqueOrThrow({ where: { externalId: `${c}-a` } })).attributes).toEqual({ tier: 'gold' });

    // 200 good rows over 4 batches (both known and unknown customers), plus 3 bad lines at known places.
    const lines = ['transaction_id,customer_id,occurred_at,amount,currency,quantity,kind'];
    for (let i = 0; i < 200; i++) {
      const who = i % 3 === 0 ? `${c}-a` : `${c}-new${i % 7}`;
      lines.push(`${c}-t${i},${who},2024-01-${String((i % 28) + 1).padStart(2, '0')}T10:00:00+01:00,${i}.10,gbp,${(i % 4) + 1},purchase`);
      if (i === 10) lines.push(`${c}-bad1,${c}-a,2024-13-01T00:00:00Z,1,GBP,1,purchase`);
      if (i === 100) lines.push(`${c}-bad2,${c}-a,2024-01-01T00:00:00Z,1.23456,GBP,1,purchase`);
      if (i === 150) lines.push(`${c}-bad3,${c}-a,2024-01-01T00:00:00Z,5,GBP,1,gift`);
    }
    const file = path.join(dir, `${c}-tx.csv.gz`);
    fs.writeFileSync(file, zlib.gzipSync(lines.join('\n')));
    const rejectsFile = path.join(dir, `${c}-tx.rejects`);
    const s = await runImport(p, { entity: 'transactions', file, batchSize: 50, rejectsFile });
    expect(s).toMatchObject({ linesRead: 203, rowsValid: 200, inserted: 200, updated: 0, unchanged: 0, rejectedLines: 3, customersCreated: 7, batches: 4 });
    expect(readRejects(rejectsFile).map((r) => [r.line, r.issues.map((i) => i.field)])).toEqual([
      [13, ['occurred_at']],
      [104, ['amount']],
      [155, ['kind']],
    ]);
    const txCount = () => p.transaction.count({ where: { externalId: { startsWith: `${c}-` } } });
    expect(await txCount()).toBe(200);
    const [sum] = await p.$queryRaw<{ s: string }[]>`select sum(amount)::text as s from transactions where external_id like ${`${c}-%`}`;
    expect(sum!.s).toBe('19920.0000'); // Σ (i + 0.10) for i < 200, exact
    const implicit = await p.customer.findUniqueOrThrow({ where: { externalId: `${c}-new1` } });
    expect(implicit).toMatchObject({ region: null, attributes: {} });
    expect(implicit.featuresStaleAt).not.toBeNull();

    const again = await runImport(p, { entity: 'transactions', file, batchSize: 50, rejectsFile });
    expect(again).toMatchObject({ rowsValid: 200, inserted: 0, updated: 0, unchanged: 200, customersCreated: 0, rejectedLines: 3 });
    expect(await txCount()).toBe(200);
  });

  it('imports an Online Retail file as one transaction per invoice with exact totals, refunds and regions', async () => {
    const p = app.db.prisma;
    const c = uid('or');
    const head = 'Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country';
    const file = path.join(dir, `${c}.csv`);
    fs.writeFileSync(
      file,
      [
        head,
        `${c}1,A,"LIGHTS, PINK",3,2009-12-01 07:45:00,0.1,${c}-k,United Kingdom`,
        `${c}1,B,GLASS BALL,3,2009-12-01 07:45:00,0.2,${c}-k,United Kingdom`,
        `${c}2,A,"LIGHTS, PINK",1,2009-12-01 09:00:00,6.95,,United Kingdom`,
        `C${c}1,A,"LIGHTS, PINK",-2,2009-12-02 10:00:00,0.1,${c}-k,United Kingdom`,
      ].join('\n'),
    );
    const s = await runImport(p, { entity: 'transactions', file, format: 'online-retail' });
    expect(s).toMatchObject({ linesRead: 4, rowsValid: 2, inserted: 2, customersCreated: 1, skipped: { 'no customer id': 1 }, rejectedLines: 0 });
    const txs = await p.transaction.findMany({ where: { customer: { externalId: `${c}-k` } }, orderBy: { occurredAt: 'asc' } });
    expect(txs.map((t) => [t.externalId, t.kind, t.amount.toString(), t.quantity, t.currency])).toEqual([
      [`${c}1`, 'purchase', '0.9', 6, 'GBP'],
      [`C${c}1`, 'refund', '0.2', -2, 'GBP'],
    ]);
    expect(txs[0]!.description).toBe('LIGHTS, PINK\nGLASS BALL');
    expect(txs[0]!.occurredAt.toISOString()).toBe('2009-12-01T07:45:00.000Z');
    expect((await p.customer.findUniqueOrThrow({ where: { externalId: `${c}-k` } })).region).toBe('United Kingdom');
    expect(await runImport(p, { entity: 'transactions', file, format: 'online-retail' })).toMatchObject({ inserted: 0, updated: 0, unchanged: 2 });
  });

  it('imports comments from NDJSON and counts the ones needing embeddings', async () => {
    const p = app.db.prisma;
    const c = uid('cm');
    const file = path.join(dir, `${c}.ndjson`);
    const rows = [
      { comment_id: `${c}-1`, customer_id: `${c}-x`, created_at: '2024-02-01T00:00:00Z', source: 'review', language: 'en', text: 'Great shop' },
      { comment_id: `${c}-2`, customer_id: `${c}-x`, created_at: '2024-02-02T00:00:00Z', source: 'tweet', text: 'meh' },
    ];
    fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const s = await runImport(p, { entity: 'comments', file });
    expect(s).toMatchObject({ rowsValid: 1, inserted: 1, commentsChanged: 1, customersCreated: 1, rejectedLines: 1 });
    expect(readRejects(s.rejectsFile)).toEqual([{ line: 2, issues: [{ field: 'source', message: expect.any(String) }], record: rows[1] }]);
    expect((await runImport(p, { entity: 'comments', file })).commentsChanged).toBe(0);
  });

  it('imports events through `valuegraph import` in several batches: duplicates in a batch rejected, the later line wins across batches', async () => {
    const c = uid('evcli');
    const file = path.join(dir, `${c}.ndjson`);
    const e = (id: number, who: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ event_id: `${c}-e${id}`, customer_id: `${c}-${who}`, occurred_at: `2024-05-0${id}T00:00:00Z`, type: 'page_view', ...extra });
    const lines = [e(1, 'x'), e(2, 'y', { type: 'search', text: 'lamp' }), e(1, 'x', { type: 'like' }), e(3, 'x'), e(4, 'z'), e(2, 'y', { type: 'search', text: 'red lamp' }), e(5, 'y')];
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const env: Record<string, string> = { ...testEnv().raw, LOG_LEVEL: 'silent' };
    // On PostgreSQL the CLI writes through COPY (the database URL handed to the runner), on PGlite through Prisma.
    const run = async () => {
      const r = (await promisify(execFile)(path.join(ROOT, 'bin/valuegraph'), ['import', 'events', file, '--batch-size', '3', '--json'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      }).catch((err: { code: number; stdout: string }) => err)) as { code?: number; stdout: string };
      expect(r.code).toBe(2); // line 3 is rejected every time
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    // Batches: lines 1, 2, 4 and 5, 6, 7; line 3 repeats line 1's id within its batch.
    expect(await run()).toMatchObject({ rowsValid: 6, batches: 2, inserted: 5, updated: 1, unchanged: 0, customersCreated: 3, searchesChanged: 2, rejectedLines: 1 });
    expect(readRejects(`${file}.rejects.ndjson`)).toMatchObject([{ line: 3, issues: [{ field: 'event_id', message: 'duplicates line 1 (same id in one batch)' }] }]);
    // Again: the search text flips back and forth (lines 2 and 6), everything else is unchanged.
    expect(await run()).toMatchObject({ inserted: 0, updated: 2, unchanged: 4, customersCreated: 0, searchesChanged: 2 });
    if (backend === 'postgres') {
      const rows = await app.db.prisma.event.findMany({ where: { externalId: { startsWith: `${c}-` } }, orderBy: { externalId: 'asc' } });
      expect(rows.map((r) => [r.externalId, r.type, r.text])).toEqual([
        [`${c}-e1`, 'page_view', null],
        [`${c}-e2`, 'search', 'red lamp'],
        [`${c}-e3`, 'page_view', null],
        [`${c}-e4`, 'page_view', null],
        [`${c}-e5`, 'page_view', null],
      ]);
    }
    if (env.DATA_DIR) fs.rmSync(env.DATA_DIR, { recursive: true, force: true });
  }, 240_000); // two CLI processes, each starting (and on PGlite migrating) its own database

  it('runs as `valuegraph import` with a mapping and prints a JSON summary', async () => {
    const c = uid('cli');
    const file = path.join(dir, `${c}.tsv`);
    fs.writeFileSync(file, `Order\tWho\tWhen\tTotal\n${c}-1\t${c}-w\t2024-05-01T00:00:00Z\t12.5\n${c}-2\t${c}-w\tnope\t1\n`);
    const mapping = JSON.stringify({ transaction_id: 'Order', customer_id: 'Who', occurred_at: 'When', amount: 'Total' });
    const env: Record<string, string> = { ...testEnv().raw, LOG_LEVEL: 'silent' };
    const run = () =>
      promisify(execFile)(path.join(ROOT, 'bin/valuegraph'), ['import', 'transactions', file, '--mapping', mapping, '--json'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      }).catch((e: { code: number; stdout: string }) => e);
    const r = (await run()) as { code?: number; stdout: string };
    expect(r.code).toBe(2); // some lines were rejected
    expect(JSON.parse(r.stdout)).toMatchObject({ linesRead: 2, inserted: 1, rejectedLines: 1 });
    expect(readRejects(`${file}.rejects.ndjson`)).toMatchObject([{ line: 3, issues: [{ field: 'When' }], record: { When: 'nope' } }]);
    if (env.DATA_DIR) fs.rmSync(env.DATA_DIR, { recursive: true, force: true });
  }, 120_000);
});
