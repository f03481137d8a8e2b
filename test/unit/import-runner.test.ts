import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { runImport } from '../../src/ingest/import/import.runner';
import { openSource } from '../../src/ingest/import/import.source';

/** Reading, validation and the rejects file without a database (dry run). */
describe('import runner (dry run)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-import-unit-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string | Buffer) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const rejects = (f: string) =>
    fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  it('numbers CSV lines correctly across quoted newlines, CRLF and gzip', async () => {
    const csv = 'a,b\n1,"x\ny"\n2,z\n\n3,"p\nq\nr"\n4,w\n';
    const crlf = csv.replace(/\n/g, '\r\n');
    for (const f of [write('n.csv', csv), write('n.csv.gz', zlib.gzipSync(csv)), write('crlf.csv', crlf)]) {
      const got: [number, unknown][] = [];
      for await (const chunk of openSource(f).records) for (const r of chunk) got.push([r.line, r.rec.a]);
      expect(got).toEqual([[2, '1'], [4, '2'], [6, '3'], [9, '4']]);
    }
  });

  it('writes each bad line with field and message to the rejects file and counts the rest', async () => {
    const f = write(
      'tx.csv',
      [
        'transaction_id,customer_id,occurred_at,amount,quantity,kind',
        't1,c1,2024-01-01T00:00:00Z,10.50,1,purchase',
        't2,c1,2024-01-01 00:00,10.50,1,purchase',
        't3,c1,2024-01-02T00:00:00Z,-3,1,purchase',
        't4,c2,2024-01-02T00:00:00Z,3,two,gift',
        't1,c1,2024-01-01T00:00:00Z,10.50,1,purchase',
        't5,,2024-01-03T00:00:00Z,1.1,1,refund',
      ].join('\n'),
    );
    const s = await runImport(null, { entity: 'transactions', file: f, dryRun: true });
    expect(s).toMatchObject({ linesRead: 6, rowsValid: 1, rejectedLines: 5, rejectsFile: `${f}.rejects.ndjson` });
    const r = rejects(s.rejectsFile);
    expect(r.map((x) => [x.line, x.issues.map((i: { field: string }) => i.field).sort()])).toEqual([
      [3, ['occurred_at']],
      [4, ['amount']],
      [5, ['kind', 'quantity']],
      [6, ['transaction_id']],
      [7, ['customer_id']],
    ]);
    expect(r[0].issues[0].message).toMatch(/ISO-8601/);
    expect(r[3].issues[0].message).toBe('duplicates line 2 (same id in one batch)');
  });

  it('reads NDJSON with bad JSON lines rejected, and CDNOW by whitespace', async () => {
    const nd = write('c.ndjson', '{"comment_id":"m1","customer_id":"c1","created_at":"2024-01-01T00:00:00Z","text":"hi"}\n{oops\n\n[1]\n');
    const s = await runImport(null, { entity: 'comments', file: nd, dryRun: true });
    expect(s).toMatchObject({ linesRead: 3, rowsValid: 1, rejectedLines: 2 });
    expect(rejects(s.rejectsFile).map((x) => [x.line, x.issues[0].message])).toEqual([
      [2, expect.stringMatching(/^not valid JSON/)],
      [4, 'each line must be a JSON object'],
    ]);
    const cd = write('cd.txt', ' 00001 19970101  1   11.77\n 00002 19970112  2   0.00\n 00003 1997 1\n');
    const c = await runImport(null, { entity: 'transactions', file: cd, format: 'cdnow', dryRun: true, rejectsFile: path.join(dir, 'cd.rej') });
    expect(c).toMatchObject({ linesRead: 3, rowsValid: 2, rejectedLines: 1 });
  });

  it('cuts batches after grouping so an invoice spanning a batch boundary stays one transaction', async () => {
    const head = 'Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country';
    const lines = [head];
    for (let inv = 1; inv <= 5; inv++) for (let k = 0; k < 3; k++) lines.push(`${inv},S${k},"thing, ${k}",2,2010-01-0${inv} 10:00:00,1.25,${100 + inv},UK`);
    lines.push('6,S,x,1,2010-01-07 10:00:00,1,,UK');
    const f = write('or.csv', lines.join('\n'));
    const s = await runImport(null, { entity: 'transactions', file: f, format: 'online-retail', batchSize: 2, dryRun: true });
    expect(s).toMatchObject({ linesRead: 16, rowsValid: 5, batches: 3, rejectedLines: 0, skipped: { 'no customer id': 1 } });
  });

  it('refuses a file with an unknown extension and a batch size over the limit', async () => {
    const f = write('x.xlsx', 'a');
    await expect(runImport(null, { entity: 'customers', file: f, dryRun: true })).rejects.toThrow(/extension/);
    await expect(runImport(null, { entity: 'customers', file: write('y.csv', 'a'), batchSize: 10_000, dryRun: true })).rejects.toThrow(/batch-size/);
  });
});
