import crypto from 'node:crypto';
import { Client } from 'pg';
import { openDb } from '../../src/db/client';

/**
 * One database per run. VG_TEST_BACKEND=postgres: create a fresh database on the server at
 * VG_TEST_PG_ADMIN_URL (default the local trust-auth server) and migrate it once; every test file shares it
 * and uses its own externalIds. VG_TEST_BACKEND=pglite: nothing to do here, each file opens its own embedded
 * database in a temp dir (PGlite cannot be shared between jest's worker processes).
 */
export default async function globalSetup(): Promise<void> {
  const backend = process.env.VG_TEST_BACKEND ?? 'pglite';
  if (backend !== 'postgres') return;
  const admin = process.env.VG_TEST_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const name = `vg_test_${Date.now()}_${crypto.randomBytes(3).toString('hex')}`;
  const c = new Client({ connectionString: admin });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  process.env.VG_TEST_DATABASE_URL = url.toString();
  process.env.VG_TEST_DB_NAME = name;
  process.env.VG_TEST_QUEUE_PREFIX = `vgt${crypto.randomBytes(4).toString('hex')}`;
  const db = await openDb({ databaseUrl: url.toString() });
  await db.migrate();
  await db.close();
}
