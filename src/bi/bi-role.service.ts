/**
 * Login roles for BI tools: members of the NOLOGIN group role valuegraph_bi (SELECT on schema bi only) with
 * `default_transaction_read_only` on as a second fence. Utility statements take no bind parameters, so the
 * server quotes the name and password itself (format %I / %L) from bind parameters, and we run its output.
 */
import crypto from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client';
import { DomainError, badInput } from '../lib/errors';
import { BI_GROUP_ROLE, BI_GROUP_ROLE_SQL } from './bi-role.sql';

type Db = Pick<PrismaClient, '$queryRaw' | '$executeRawUnsafe'>;

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface BiLoginRole {
  role: string;
  password: string;
  generated: boolean;
  /** false: the role existed (a BI member) and got the new password. */
  created: boolean;
  /** DATABASE_URL with this role's credentials; null on the embedded database, which has no network listener. */
  connectionString: string | null;
}

/** Creates valuegraph_bi and its grants when missing (the migration may have lacked CREATEROLE); true when it exists. */
export async function ensureBiGroupRole(db: Db): Promise<boolean> {
  await db.$executeRawUnsafe(BI_GROUP_ROLE_SQL);
  return roleExists(db, BI_GROUP_ROLE);
}

async function roleExists(db: Db, name: string): Promise<boolean> {
  return (await db.$queryRaw<{ n: number }[]>`select count(*)::int as n from pg_roles where rolname = ${name}`)[0]!.n > 0;
}

async function runFormatted(db: Db, rows: Promise<{ sql: string }[]>): Promise<void> {
  for (const { sql } of await rows) await db.$executeRawUnsafe(sql);
}

export function validateRoleName(name: string): void {
  if (!ROLE_NAME.test(name) || name.startsWith('pg_') || name === BI_GROUP_ROLE) {
    throw badInput(`role name must be lower-case letters, digits and _, not start with pg_ and not be ${BI_GROUP_ROLE} (got "${name}")`);
  }
}

interface RoleInfo {
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolbypassrls: boolean;
  member: boolean;
}

/**
 * Creates login role `name` in valuegraph_bi, or gives an existing BI-only member a new password. Refuses any
 * other existing role: resetting the password of, say, the application's own role would lock it out.
 */
export async function createBiLoginRole(db: Db, opts: { name: string; password?: string; databaseUrl?: string }): Promise<BiLoginRole> {
  validateRoleName(opts.name);
  if (opts.password !== undefined && opts.password.length < 12) throw badInput('the BI role password must have at least 12 characters');
  if (!(await ensureBiGroupRole(db))) {
    throw new DomainError('FORBIDDEN', `role ${BI_GROUP_ROLE} does not exist and this database role may not create it (needs CREATEROLE)`);
  }
  const password = opts.password ?? crypto.randomBytes(24).toString('base64url');
  const existing = (
    await db.$queryRaw<RoleInfo[]>`
      select r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
        pg_has_role(r.oid, ${BI_GROUP_ROLE}, 'MEMBER') as member
      from pg_roles r where r.rolname = ${opts.name}`
  )[0];
  if (existing && (!existing.member || existing.rolsuper || existing.rolcreaterole || existing.rolcreatedb || existing.rolbypassrls)) {
    throw new DomainError('CONFLICT', `role ${opts.name} already exists and is not a plain ${BI_GROUP_ROLE} member; choose another name`);
  }
  await runFormatted(
    db,
    existing
      ? db.$queryRaw`select format('alter role %I with login password %L', ${opts.name}::text, ${password}::text) as sql`
      : db.$queryRaw`select format('create role %I login password %L in role %I', ${opts.name}::text, ${password}::text, ${BI_GROUP_ROLE}::text) as sql`,
  );
  await runFormatted(db, db.$queryRaw`select format('alter role %I set default_transaction_read_only = on', ${opts.name}::text) as sql`);
  return { role: opts.name, password, generated: opts.password === undefined, created: !existing, connectionString: connectionStringFor(opts.databaseUrl, opts.name, password) };
}

/** Drops a login role made by createBiLoginRole (only such roles). */
export async function dropBiLoginRole(db: Db, name: string): Promise<void> {
  validateRoleName(name);
  const info = (
    await db.$queryRaw<RoleInfo[]>`
      select r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, pg_has_role(r.oid, ${BI_GROUP_ROLE}, 'MEMBER') as member
      from pg_roles r where r.rolname = ${name}`
  )[0];
  if (!info) throw new DomainError('NOT_FOUND', `role ${name} not found`);
  if (!info.member || info.rolsuper || info.rolcreaterole || info.rolcreatedb) {
    throw new DomainError('CONFLICT', `role ${name} is not a plain ${BI_GROUP_ROLE} member; drop it by hand if you mean it`);
  }
  await runFormatted(db, db.$queryRaw`select format('drop role %I', ${name}::text) as sql`);
}

function connectionStringFor(databaseUrl: string | undefined, role: string, password: string): string | null {
  if (!databaseUrl) return null;
  const url = new URL(databaseUrl);
  url.username = role;
  url.password = password;
  // Prisma-only parameters mean nothing to a BI tool; libpq ones (sslmode, ...) stay.
  for (const p of ['schema', 'connection_limit', 'pool_timeout', 'pgbouncer', 'statement_cache_size']) url.searchParams.delete(p);
  return url.toString();
}
