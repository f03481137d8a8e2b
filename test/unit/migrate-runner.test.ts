/** Our migration runner against an in-memory PGlite: idempotence, Prisma-compatible history, tamper detection. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { applyMigrations, defaultMigrationsDir, listMigrations, pgliteDriver } from '../../src/db/migrate';

const vec = (head: number, dim = 384) => `[${[head, ...Array<number>(dim - 1).fill(0.01)].join(',')}]`;

describe('applyMigrations on PGlite', () => {
  jest.setTimeout(30_000);
  const files = listMigrations();
  let db: PGlite;

  beforeAll(async () => {
    db = new PGlite({ extensions: { vector } });
    await db.waitReady;
  });
  afterAll(() => db?.close());

  test('applies every migration once, then none', async () => {
    expect(files.map((f) => f.name)).toEqual(expect.arrayContaining(['0001_init', '0002_vector_indexes']));
    const logs: string[] = [];
    const first = await applyMigrations(pgliteDriver(db), { log: (m) => logs.push(m) });
    expect(first).toEqual({ applied: files.map((f) => f.name), alreadyApplied: 0 });
    expect(logs).toContain('applying migration 0001_init');
    expect(await applyMigrations(pgliteDriver(db))).toEqual({ applied: [], alreadyApplied: files.length });
  });

  test('records history as Prisma does: sha256 of the file, finished, one step', async () => {
    const { rows } = await db.query<Record<string, unknown>>(
      'SELECT id, checksum, migration_name, finished_at, started_at, logs, rolled_back_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
    );
    expect(rows.map((r) => r.migration_name)).toEqual(files.map((f) => f.name));
    for (const row of rows) {
      const sql = fs.readFileSync(path.join(defaultMigrationsDir(), String(row.migration_name), 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row).toMatchObject({ logs: null, rolled_back_at: null, applied_steps_count: 1 });
      expect((row.finished_at as Date).getTime()).toBeGreaterThanOrEqual((row.started_at as Date).getTime());
    }
  });

  test('creates the tables and the partial HNSW indexes', async () => {
    const { rows: tables } = await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    const names = tables.map((t) => t.table_name);
    for (const t of ['customers', 'transactions', 'comments', 'comment_embeddings', 'customer_profile_embeddings', 'scores', 'job_runs']) {
      expect(names).toContain(t);
    }
    const { rows: idx } = await db.query<{ indexname: string; indexdef: string }>(
      "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%_hnsw_384' ORDER BY indexname",
    );
    expect(idx.map((i) => i.indexname)).toEqual(['comment_embeddings_hnsw_384', 'customer_profile_embeddings_hnsw_384']);
    for (const i of idx) expect(i.indexdef).toMatch(/USING hnsw \(\(\(embedding\)::vector\(384\)\) vector_cosine_ops\) WHERE \(dim = 384\)/);
  });

  test('stores vectors and ranks them by cosine distance through the index', async () => {
    await db.exec(`
      INSERT INTO customers (external_id) VALUES ('c-vec');
      INSERT INTO comments (external_id, customer_id, created_at, text, text_hash)
        SELECT 'm' || n, (SELECT id FROM customers WHERE external_id = 'c-vec'), now(), 'text ' || n, repeat('a', 64)
        FROM generate_series(1, 3) n;`);
    const ids = (await db.query<{ id: string }>("SELECT id::text FROM comments WHERE external_id LIKE 'm%' ORDER BY external_id")).rows;
    const heads = [1, -1, 0.5];
    for (const [i, { id }] of ids.entries()) {
      await db.query(
        "INSERT INTO comment_embeddings (comment_id, model, dim, text_hash, embedding) VALUES ($1, 'test-model', 384, repeat('a', 64), $2::vector)",
        [id, vec(heads[i] ?? 0)],
      );
    }
    const nearest = `SELECT c.external_id FROM comment_embeddings e JOIN comments c ON c.id = e.comment_id
      WHERE e.dim = 384 ORDER BY e.embedding::vector(384) <=> $1::vector(384) LIMIT 3`;
    const { rows } = await db.query<{ external_id: string }>(nearest, [vec(1)]);
    expect(rows.map((r) => r.external_id)).toEqual(['m1', 'm3', 'm2']);

    await db.exec('SET enable_seqscan = off');
    const plan = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT comment_id FROM comment_embeddings WHERE dim = 384
      ORDER BY embedding::vector(384) <=> $1::vector(384) LIMIT 3`, [vec(1)]);
    await db.exec('RESET enable_seqscan');
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('comment_embeddings_hnsw_384');
  });

  test('refuses to run when an applied migration file was edited', async () => {
    const original = files[0]!;
    await db.query('UPDATE _prisma_migrations SET checksum = $1 WHERE migration_name = $2', ['0'.repeat(64), original.name]);
    try {
      await expect(applyMigrations(pgliteDriver(db))).rejects.toThrow(`migration ${original.name} was modified after it was applied`);
    } finally {
      await db.query('UPDATE _prisma_migrations SET checksum = $1 WHERE migration_name = $2', [original.checksum, original.name]);
    }
  });

  test('a failing migration leaves neither its changes nor a history row', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-migrations-'));
    try {
      for (const f of files) {
        fs.mkdirSync(path.join(dir, f.name));
        fs.writeFileSync(path.join(dir, f.name, 'migration.sql'), f.sql);
      }
      fs.mkdirSync(path.join(dir, '9999_broken'));
      fs.writeFileSync(path.join(dir, '9999_broken', 'migration.sql'), 'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n');
      await expect(applyMigrations(pgliteDriver(db), { dir })).rejects.toThrow(/migration 9999_broken failed: .*no_such_function/);
      const { rows } = await db.query("SELECT to_regclass('half_done') AS t, (SELECT count(*)::int FROM _prisma_migrations) AS n");
      expect(rows[0]).toEqual({ t: null, n: files.length });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
