/**
 * Applies each prisma/migrations/<name>/migration.sql in name order and records it in `_prisma_migrations`
 * the way `prisma migrate deploy` does, so the Prisma CLI (where a native engine exists) sees the same
 * history. We run them ourselves because `prisma migrate` needs a native schema engine that cannot be
 * fetched here. Each migration runs in one transaction with its history row, so a migration cannot use
 * statements that refuse transactions (e.g. CREATE INDEX CONCURRENTLY).
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Client, PoolClient } from 'pg';

export interface MigrationDriver {
  readonly dialect: 'postgres' | 'pglite';
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a multi-statement script. */
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (d: MigrationDriver) => Promise<T>): Promise<T>;
  /** Session-wide exclusive lock around a whole run; absent where only one process can open the database. */
  lock?(): Promise<void>;
  unlock?(): Promise<void>;
}

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface ApplyOptions {
  dir?: string;
  log?: (msg: string) => void;
}

/** The key `prisma migrate` itself locks, so our runner and the Prisma CLI also exclude each other. */
const ADVISORY_LOCK_KEY = 72707369;

/** Prisma's own DDL (Postgres flavour); other columns or types would make `prisma migrate status` choke. */
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

export function pgDriver(client: PoolClient | Client): MigrationDriver {
  let inTransaction = false;
  const driver: MigrationDriver = {
    dialect: 'postgres',
    async query<T>(sql: string, params?: unknown[]) {
      return (await client.query(sql, params)).rows as T[];
    },
    async exec(sql) {
      // Without parameters pg uses the simple query protocol, which accepts several statements.
      await client.query(sql);
    },
    async transaction(fn) {
      // Same as pgliteDriver: a nested transaction() joins the open one instead of committing it early.
      if (inTransaction) return fn(driver);
      await client.query('BEGIN');
      inTransaction = true;
      try {
        const result = await fn(driver);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        inTransaction = false;
      }
    },
    async lock() {
      await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
    },
    async unlock() {
      await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEY]);
    },
  };
  return driver;
}

type PgliteQueryable = Pick<PGlite, 'query' | 'exec'>;

/** Structural, because `import()` and `require` of @electric-sql/pglite give two nominally different classes. */
export type PgliteLike = Pick<PGlite, 'query' | 'exec' | 'transaction'>;

export function pgliteDriver(db: PgliteLike): MigrationDriver {
  const wrap = (q: PgliteQueryable, tx: (fn: (d: MigrationDriver) => Promise<unknown>) => Promise<unknown>): MigrationDriver => ({
    dialect: 'pglite',
    async query<T>(sql: string, params?: unknown[]) {
      return (await q.query<T>(sql, params)).rows;
    },
    async exec(sql) {
      await q.exec(sql);
    },
    transaction: tx as MigrationDriver['transaction'],
  });
  // Inside a transaction, a nested transaction() just reuses it.
  const root: MigrationDriver = wrap(db, (fn) =>
    db.transaction(async (t) => {
      const inner: MigrationDriver = wrap(t, (f) => f(inner));
      return fn(inner);
    }),
  );
  return root;
}

/** Walks up from this file (src/db or dist/src/db) to the directory holding prisma/migrations. */
export function defaultMigrationsDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'prisma', 'migrations');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`no prisma/migrations directory above ${__dirname}`);
  }
}

export function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

export function listMigrations(dir: string = defaultMigrationsDir()): MigrationFile[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: checksum(sql) };
    });
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
  rolled_back_at: unknown;
}

export async function applyMigrations(
  driver: MigrationDriver,
  opts: ApplyOptions = {},
): Promise<{ applied: string[]; alreadyApplied: number }> {
  const log = opts.log ?? (() => {});
  const files = listMigrations(opts.dir ?? defaultMigrationsDir());
  await driver.lock?.();
  try {
    await driver.exec(CREATE_MIGRATIONS_TABLE);
    const rows = await driver.query<AppliedRow>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations WHERE rolled_back_at IS NULL',
    );
    const done = new Map<string, AppliedRow>();
    for (const row of rows) {
      if (row.finished_at == null) {
        throw new Error(
          `migration ${row.migration_name} failed in an earlier run and is still marked as started in _prisma_migrations; ` +
            'fix the database by hand, then delete that row or set its rolled_back_at',
        );
      }
      done.set(row.migration_name, row);
    }
    for (const f of files) {
      const row = done.get(f.name);
      if (row && row.checksum !== f.checksum) {
        throw new Error(
          `migration ${f.name} was modified after it was applied (recorded checksum ${row.checksum}, file ${f.checksum}); ` +
            'restore the original file and put the change in a new migration',
        );
      }
    }
    const known = new Set(files.map((f) => f.name));
    const unknown = [...done.keys()].filter((n) => !known.has(n));
    if (unknown.length) log(`database has migrations missing from ${opts.dir ?? 'prisma/migrations'}: ${unknown.join(', ')}`);

    const applied: string[] = [];
    for (const f of files.filter((m) => !done.has(m.name))) {
      log(`applying migration ${f.name}`);
      // Script and history row commit together: a failure leaves neither, and the next start retries it.
      await driver.transaction(async (tx) => {
        const startedAt = (await tx.query<{ now: unknown }>('SELECT clock_timestamp() AS now'))[0]?.now;
        try {
          await tx.exec(f.sql);
        } catch (err) {
          throw new Error(`migration ${f.name} failed: ${(err as Error).message}`, { cause: err });
        }
        await tx.query(
          `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
           VALUES ($1, $2, clock_timestamp(), $3, NULL, NULL, $4, 1)`,
          [randomUUID(), f.checksum, f.name, startedAt],
        );
      });
      applied.push(f.name);
    }
    return { applied, alreadyApplied: files.length - applied.length };
  } finally {
    // A failed unlock must not hide the run's own error; the lock dies with the session anyway.
    await driver.unlock?.().catch((err: Error) => log(`could not release the migration lock: ${err.message}`));
  }
}
