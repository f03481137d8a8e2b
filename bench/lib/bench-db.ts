import { Client } from 'pg';
import type { PrismaClient } from '../../src/generated/prisma/client';

/** `<DATABASE_URL's database>_<suffix>` on the same server: benches never write into the configured database. */
export function siblingDatabaseUrl(suffix: string): string {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error(`DATABASE_URL must point at PostgreSQL (the bench creates <db>_${suffix} next to it)`);
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/^\//, '') || 'valuegraph'}_${suffix}`;
  return u.toString();
}

export async function ensureDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = u.pathname.slice(1);
  u.pathname = '/postgres';
  const admin = new Client({ connectionString: u.toString() });
  await admin.connect();
  const exists = await admin.query('select 1 from pg_database where datname = $1', [name]);
  if (!exists.rowCount) await admin.query(`create database "${name.replace(/"/g, '""')}"`);
  await admin.end();
}

/**
 * n customers with ~10 purchases each over the two years before `now` (heavier for some, 3% refunds), generated in
 * SQL: the same population for the scoring and the scale-out benches.
 */
export async function seedCustomerHistories(p: PrismaClient, n: number, now: Date): Promise<void> {
  await p.$executeRaw`insert into customers (external_id, birth_year, region)
    select 'b' || g, 1950 + g % 50, 'r' || g % 9 from generate_series(1, ${n}) g`;
  await p.$executeRaw`insert into transactions (external_id, customer_id, occurred_at, amount, kind, product_id, quantity)
    select 'bt' || c.id || '-' || k, c.id,
      ${now.toISOString()}::timestamptz - ((hashint4(c.id * 31 + k) & 1023) % 720) * interval '1 day',
      5 + (hashint4(c.id) & 255) * (1 + (k % 3)) / 2.0,
      case when hashint4(c.id * 7 + k) % 33 = 0 then 'refund'::"TransactionKind" else 'purchase'::"TransactionKind" end,
      'p' || (hashint4(c.id + k) & 255), 1
    from customers c, generate_series(1, 4 + (hashint4(c.id) & 15)) k`;
}
