import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { type App, createApp } from '../../src/app';
import { type Env, parseEnv } from '../../src/config/env';
import { createLogger } from '../../src/lib/logger';

export type TestBackend = 'pglite' | 'postgres';
export const backend: TestBackend = process.env.VG_TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite';

/** Environment for the current backend: PGlite + in-process jobs, or PostgreSQL + Redis/BullMQ. */
export function testEnv(overrides: Record<string, string> = {}): Env & { raw: Record<string, string> } {
  const raw: Record<string, string> = { NODE_ENV: 'test', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', JOB_LOCK_MS: '15000' };
  if (backend === 'postgres') {
    raw.DATABASE_URL = must('VG_TEST_DATABASE_URL');
    raw.REDIS_URL = process.env.VG_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
    raw.QUEUE_PREFIX = must('VG_TEST_QUEUE_PREFIX');
  } else {
    raw.DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-test-'));
  }
  Object.assign(raw, overrides);
  return { ...parseEnv(raw), raw };
}

export async function openTestApp(overrides: Record<string, string> = {}, opts = { runJobs: true }): Promise<App> {
  const env = testEnv(overrides);
  const app = await createApp(env, createLogger(env.LOG_LEVEL), { migrate: true, runJobs: opts.runJobs });
  // A temp PGlite directory made for this app goes away with it (a caller-supplied DATA_DIR stays).
  const tempDir = backend === 'pglite' && !overrides.DATA_DIR ? env.DATA_DIR : undefined;
  return {
    ...app,
    async close() {
      await app.close();
      if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    },
  };
}

/**
 * A PostgreSQL database (and queue prefix) of a file's own, next to the run's shared one, for tests whose data a
 * whole-table job in another file would change (a full behaviour-vector refresh rewrites every customer's vector
 * and drops those without a feature snapshot). PGlite files have their own database already: no overrides.
 * Dropped by `drop`, or by the global teardown (`<run database>_*`).
 */
export async function ownDatabase(label: string): Promise<{ overrides: Record<string, string>; drop(): Promise<void> }> {
  if (backend !== 'postgres') return { overrides: {}, drop: async () => {} };
  const name = `${must('VG_TEST_DB_NAME')}_${label}`;
  const admin = process.env.VG_TEST_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const run = async (sql: string) => {
    const c = new Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(must('VG_TEST_DATABASE_URL'));
  url.pathname = `/${name}`;
  return {
    overrides: { DATABASE_URL: url.toString(), QUEUE_PREFIX: `${must('VG_TEST_QUEUE_PREFIX')}${label}` },
    drop: () => run(`drop database if exists ${name} with (force)`),
  };
}

/** Unique per test so files sharing one PostgreSQL database never see each other's rows. */
export function uid(prefix = 't'): string {
  return `${prefix}-${crypto.randomBytes(5).toString('hex')}`;
}

function must(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run integration tests through jest's globalSetup`);
  return v;
}
