import fs from 'node:fs';
import path from 'node:path';
import type { SqlDriverAdapter, SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaClient } from '../generated/prisma/client';
import type { Logger } from '../lib/logger';
import { applyMigrations, pgDriver, pgliteDriver } from './migrate';

export type Backend = 'postgres' | 'pglite';

/**
 * Prisma's query-plan cache (default 1000 entries) keeps raw queries' parameter values alive; bulk imports send
 * megabyte-sized JSON parameters, so a small cache keeps memory flat at no measurable cost.
 */
export const QUERY_PLAN_CACHE = 100;

export interface DbOptions {
  /** Unset: embedded PGlite persisted under dataDir (or in memory when dataDir is 'memory://'). */
  databaseUrl?: string;
  dataDir?: string;
  poolSize?: number;
  log?: Logger;
}

/** One handle for both backends: the same Prisma client API and the same raw SQL run on either. */
export interface Db {
  readonly backend: Backend;
  readonly prisma: PrismaClient;
  /** Driver adapter the client uses; the job runtime lends it to worker threads (PGlite lives on one thread). */
  connectAdapter(): Promise<SqlDriverAdapter>;
  /** Apply pending SQL migrations. Only the API and CLI call this, never a worker. */
  migrate(): Promise<{ applied: string[]; alreadyApplied: number }>;
  /** Cheap reachability probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function openDb(opts: DbOptions): Promise<Db> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts) : openPglite(opts.dataDir ?? './data', opts);
}

async function openPostgres(connectionString: string, opts: DbOptions): Promise<Db> {
  const [{ default: pg }, { PrismaPg }] = await Promise.all([import('pg'), import('@prisma/adapter-pg')]);
  const pool = new pg.Pool({ connectionString, max: opts.poolSize ?? 10, connectionTimeoutMillis: 10_000 });
  // An idle client dropped by a Postgres restart emits 'error' on the pool; unhandled it would kill the process.
  pool.on('error', (err) => opts.log?.warn({ err: err.message }, 'postgres idle client error'));
  const factory = new PrismaPg(pool);
  const prisma = new PrismaClient({ adapter: factory, queryPlanCacheMaxSize: QUERY_PLAN_CACHE });
  let closed = false;
  return {
    backend: 'postgres',
    prisma,
    connectAdapter: () => factory.connect(),
    async migrate() {
      const client = await pool.connect();
      try {
        return await applyMigrations(pgDriver(client), { log: (m) => opts.log?.info(m) });
      } finally {
        client.release();
      }
    },
    async ping() {
      await pool.query('select 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openPglite(dataDir: string, opts: DbOptions): Promise<Db> {
  const [{ PGlite }, { vector }, { PrismaPGlite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-pgvector'),
    import('pglite-prisma-adapter'),
  ]);
  const inMemory = dataDir.startsWith('memory://');
  const dir = inMemory ? dataDir : path.resolve(dataDir, 'pglite');
  const release = inMemory ? () => {} : lockDataDir(dir);
  let pglite;
  try {
    pglite = await PGlite.create(dir, { extensions: { vector } });
  } catch (err) {
    release();
    throw err;
  }
  const factory: SqlDriverAdapterFactory = new PrismaPGlite(pglite) as unknown as SqlDriverAdapterFactory;
  const prisma = new PrismaClient({ adapter: factory as never, queryPlanCacheMaxSize: QUERY_PLAN_CACHE });
  let closed = false;
  return {
    backend: 'pglite',
    prisma,
    connectAdapter: () => factory.connect(),
    migrate: () => applyMigrations(pgliteDriver(pglite), { log: (m) => opts.log?.info(m) }),
    async ping() {
      await pglite.query('select 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await pglite.close();
      release();
    },
  };
}

/**
 * PGlite is a single-process database: two processes opening one directory would corrupt it. A pid file
 * turns that into a clear error; a stale file left by a killed process is taken over.
 */
function lockDataDir(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const lockFile = path.join(path.dirname(dir), 'pglite.pid');
  try {
    const pid = Number(fs.readFileSync(lockFile, 'utf8'));
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new Error(
        `the embedded database in ${dir} is in use by process ${pid}; stop it, or set DATABASE_URL to share a PostgreSQL server`,
      );
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.writeFileSync(lockFile, String(process.pid));
  return () => {
    try {
      if (fs.readFileSync(lockFile, 'utf8') === String(process.pid)) fs.unlinkSync(lockFile);
    } catch {
      /* already gone */
    }
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
