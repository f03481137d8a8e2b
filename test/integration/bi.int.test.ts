/**
 * BI integration: the views in schema bi (champion scores, current segments, current features), the read-only
 * group role valuegraph_bi with a login role from `bi create-role`, and `valuegraph export` round trips.
 * PostgreSQL: the BI role logs in over the network like a BI tool. PGlite has no listener: the same statements
 * run under SET LOCAL ROLE, and the test asserts the documented difference (no connection string, the role's
 * read-only default applies only at a login PGlite cannot have).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { Client } from 'pg';
import type { App } from '../../src/app';
import { BI_GROUP_ROLE, BI_GROUP_ROLE_SQL } from '../../src/bi/bi-role.sql';
import { createBiLoginRole, dropBiLoginRole } from '../../src/bi/bi-role.service';
import { EXPORT_KINDS, EXPORT_VIEWS, type ExportColumn, selectList, viewColumns } from '../../src/bi/export-columns';
import { runExport } from '../../src/bi/export.service';
import { FEATURE_NAMES, FEATURE_SET } from '../../src/features/features.definitions';
import { importEsm } from '../../src/lib/import-esm';
import { backend, openTestApp, uid } from '../helpers/test-env';

type Hyparquet = typeof import('hyparquet', { with: { 'resolution-mode': 'import' } });

const N = 300;
const PLAIN_TYPES = new Set(['integer', 'text', 'numeric', 'double precision', 'timestamp with time zone']);

describe(`BI views, read-only role and exports (${backend})`, () => {
  let app: App;
  let dir: string;
  const tag = uid('bi');
  const role = `vg_bi_${tag.slice(3)}`;
  let previousChampion: { modelVersionId: number; promotedAt: Date } | null = null;
  let champ = 0;
  let other = 0;
  let latestRun = 0;
  const runIds: number[] = [];
  const ids: number[] = [];
  const ext = (i: number) => (i === 0 ? `${tag}-0,"quoted"\r\nline` : `${tag}-${i}`);
  const region = (i: number) => (i % 3 === 0 ? null : i % 3 === 1 ? '' : `r${i % 5}`);
  const clvText = (i: number) => ((i * 7919.1234) % 100_000).toFixed(4);
  const feature = (i: number, k: number) => (k === 3 && i % 10 === 0 ? null : ((i + 1) * (k + 1)) / 7);
  const q = <T = Record<string, unknown>>(sql: string, ...params: unknown[]) => app.db.prisma.$queryRawUnsafe<T[]>(sql, ...params);

  beforeAll(async () => {
    app = await openTestApp({}, { runJobs: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-bi-'));
    const db = app.db.prisma;
    const rows = Array.from({ length: N }, (_, i) => ({ external_id: ext(i), region: region(i) }));
    const inserted = await q<{ id: number; external_id: string }>(
      `insert into customers (external_id, region) select r.external_id, r.region
       from jsonb_to_recordset($1::jsonb) as r(external_id text, region text) returning id, external_id`,
      JSON.stringify(rows),
    );
    const byExt = new Map(inserted.map((r) => [r.external_id, r.id]));
    for (let i = 0; i < N; i++) ids.push(byExt.get(ext(i))!);
    const mv = async () =>
      (await q<{ id: number }>(`insert into model_versions (kind, status, horizon_days, cutoff) values ('clv-forest', 'ready', 365, now()) returning id`))[0]!.id;
    champ = await mv();
    other = await mv();
    const prev = await db.modelChampion.findUnique({ where: { kind: 'clv-forest' } });
    previousChampion = prev ? { modelVersionId: prev.modelVersionId, promotedAt: prev.promotedAt } : null;
    await db.modelChampion.upsert({
      where: { kind: 'clv-forest' },
      create: { kind: 'clv-forest', modelVersionId: champ },
      update: { modelVersionId: champ, promotedAt: new Date() },
    });
    const scores = ids.flatMap((id, i) => [
      { customer_id: id, mv: champ, clv: clvText(i), p_alive: i / N, tier: `tier${i % 4}`, segment: i % 7 ? `seg${i % 3}` : null },
      ...(i % 2 ? [{ customer_id: id, mv: other, clv: '1.0000', p_alive: 0.5, tier: 'other', segment: 'other' }] : []),
    ]);
    await q(
      `insert into scores (customer_id, model_version_id, clv, p_alive, churn_risk, tier, segment)
       select r.customer_id, r.mv, r.clv::numeric, r.p_alive, 1 - r.p_alive, r.tier, r.segment
       from jsonb_to_recordset($1::jsonb) as r(customer_id int, mv int, clv text, p_alive float8, tier text, segment text)`,
      JSON.stringify(scores),
    );
    // An older completed run, the latest completed one, and a newer run still running (ignored).
    for (const [status, finished] of [['completed', `clock_timestamp() - interval '1 day'`], ['completed', 'clock_timestamp()'], ['running', 'null']] as const) {
      const run = await q<{ id: number }>(
        `insert into scoring_runs (model_version_id, status, "full", customer_count, started_at, finished_at)
         values ($1, $2, true, $3, clock_timestamp(), ${finished}) returning id`,
        champ,
        status,
        N,
      );
      runIds.push(run[0]!.id);
    }
    latestRun = runIds[1]!;
    const segs = runIds.flatMap((runId, r) =>
      ids.flatMap((id, i) => [
        { run: runId, customer_id: id, kind: 'value_tier', name: r === 1 ? `top_${i % 5}` : 'stale' },
        // Customers 0..9 have only a value tier in the latest run.
        ...(r === 1 && i < 10 ? [] : [{ run: runId, customer_id: id, kind: 'rfm', name: r === 1 ? `rfm${i % 4}` : 'stale' }]),
        ...(r === 1 && i < 10 ? [] : [{ run: runId, customer_id: id, kind: 'churn_risk', name: r === 1 ? `band${i % 3}` : 'stale' }]),
      ]),
    );
    await q(
      `insert into customer_segments (scoring_run_id, customer_id, kind, name)
       select r.run, r.customer_id, r.kind, r.name from jsonb_to_recordset($1::jsonb) as r(run int, customer_id int, kind text, name text)`,
      JSON.stringify(segs),
    );
    const snaps = ids.flatMap((id, i) => {
      const values = Object.fromEntries(FEATURE_NAMES.map((n, k) => [n, feature(i, k)]).filter(([, v]) => v !== null));
      return [
        { customer_id: id, set: FEATURE_SET, as_of: '2030-01-01T00:00:00Z', current: true, values },
        { customer_id: id, set: FEATURE_SET, as_of: '2020-01-01T00:00:00Z', current: false, values: { recency_days: -99 } },
        { customer_id: id, set: 'other-set', as_of: '2030-01-01T00:00:00Z', current: true, values: { recency_days: -98 } },
      ];
    });
    await q(
      `insert into feature_snapshots (customer_id, feature_set, as_of, is_current, values)
       select r.customer_id, r.set, r.as_of, r.current, r.values
       from jsonb_to_recordset($1::jsonb) as r(customer_id int, set text, as_of timestamptz, current boolean, values jsonb)`,
      JSON.stringify(snaps),
    );
  }, 120_000);

  afterAll(async () => {
    if (app) {
      const db = app.db.prisma;
      // Leave the shared database as we found it: other files read the champion and the latest run.
      if (previousChampion) await db.modelChampion.update({ where: { kind: 'clv-forest' }, data: previousChampion });
      else await db.modelChampion.deleteMany({ where: { kind: 'clv-forest', modelVersionId: champ } });
      if (ids.length) await q(`delete from customers where id = any($1::int[])`, ids);
      if (runIds.length) await q(`delete from scoring_runs where id = any($1::int[])`, runIds);
      await q(`delete from model_versions where id = any($1::int[])`, [champ, other]);
      await dropBiLoginRole(db, role).catch(() => {});
      await app.close();
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const mine = <T extends { customer_id: number }>(rows: T[]) => {
    const set = new Set(ids);
    return rows.filter((r) => set.has(Number(r.customer_id))).sort((a, b) => Number(a.customer_id) - Number(b.customer_id));
  };

  it('bi.customer_scores: the champion’s scores, one row per customer, plain columns', async () => {
    const rows = mine(await q<{ customer_id: number; external_id: string; region: string | null; model_version_id: number; clv: string; value_tier: string; rfm_segment: string | null; churn_risk: number }>(
      `select *, clv::text as clv from bi.customer_scores`,
    ));
    expect(rows).toHaveLength(N);
    rows.forEach((r, i) => {
      expect(r).toMatchObject({ external_id: ext(i), region: region(i), model_version_id: champ, clv: clvText(i), value_tier: `tier${i % 4}`, rfm_segment: i % 7 ? `seg${i % 3}` : null });
      expect(r.churn_risk).toBeCloseTo(1 - i / N, 12);
    });
  });

  it('bi.customer_segments: the latest completed run, one column per kind', async () => {
    const rows = mine(await q<{ customer_id: number; scoring_run_id: number; value_tier: string; rfm_segment: string | null; churn_risk_band: string | null }>(`select * from bi.customer_segments`));
    expect(rows).toHaveLength(N);
    rows.forEach((r, i) => {
      expect(r).toMatchObject({ scoring_run_id: latestRun, value_tier: `top_${i % 5}`, rfm_segment: i < 10 ? null : `rfm${i % 4}`, churn_risk_band: i < 10 ? null : `band${i % 3}` });
    });
  });

  it('bi.customer_features (alias of _v1): one double column per feature of the current set', async () => {
    const rows = mine(await q<Record<string, unknown> & { customer_id: number }>(`select * from bi.customer_features`));
    expect(rows).toHaveLength(N);
    rows.forEach((r, i) => {
      expect(r.feature_set).toBe(FEATURE_SET);
      FEATURE_NAMES.forEach((n, k) => expect(r[n]).toBe(feature(i, k)));
    });
    const cols = await viewColumns(app.db.prisma, 'customer_features');
    expect(cols.map((c) => c.name)).toEqual(['customer_id', 'external_id', 'feature_set', 'as_of', 'computed_at', ...FEATURE_NAMES]);
  });

  it('every bi view has only plain column types and starts with customer_id', async () => {
    const info = await q<{ table_name: string; column_name: string; data_type: string }>(
      `select table_name::text, column_name::text, data_type::text from information_schema.columns where table_schema = 'bi' order by table_name, ordinal_position`,
    );
    const views = [...new Set(info.map((c) => c.table_name))].sort();
    expect(views).toEqual(['customer_features', 'customer_features_v1', 'customer_scores', 'customer_segments']);
    for (const c of info) expect([c.table_name, c.column_name, PLAIN_TYPES.has(c.data_type)]).toEqual([c.table_name, c.column_name, true]);
    for (const v of views) expect(info.find((c) => c.table_name === v)!.column_name).toBe('customer_id');
  });

  describe('read-only BI role', () => {
    let pg: Client | undefined;
    /** Runs `sql` as the BI login role: over its own connection (PostgreSQL) or under SET LOCAL ROLE (PGlite). */
    const asBi = async (sql: string): Promise<unknown[]> => {
      if (pg) return (await pg.query(sql)).rows;
      return app.db.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(`set local role ${role}`);
        return tx.$queryRawUnsafe<unknown[]>(sql);
      });
    };
    const denied = async (sql: string) => {
      await expect(asBi(sql)).rejects.toThrow(/permission denied/);
    };

    beforeAll(async () => {
      const created = await createBiLoginRole(app.db.prisma, { name: role, password: 'correct horse battery', databaseUrl: app.env.DATABASE_URL });
      expect(created).toMatchObject({ role, created: true, generated: false });
      if (backend === 'postgres') {
        expect(created.connectionString).toMatch(new RegExp(`^postgres(ql)?://${role}:`));
        pg = new Client({ connectionString: created.connectionString! });
        await pg.connect();
      } else {
        // Documented: the embedded database has no network listener, hence no connection string.
        expect(created.connectionString).toBeNull();
      }
    });
    afterAll(async () => {
      await pg?.end();
    });

    it('is a member of valuegraph_bi only, with read-only transactions by default', async () => {
      const [info] = await q<{ member: boolean; rolsuper: boolean; rolconfig: string[] | null }>(
        `select pg_has_role(oid, $2, 'MEMBER') as member, rolsuper, rolconfig from pg_roles where rolname = $1`,
        role,
        BI_GROUP_ROLE,
      );
      expect(info).toMatchObject({ member: true, rolsuper: false });
      expect(info!.rolconfig).toContain('default_transaction_read_only=on');
      if (pg) {
        // Role settings apply at login (PGlite has none): a BI session starts read-only.
        expect(await pg.query('show default_transaction_read_only')).toMatchObject({ rows: [{ default_transaction_read_only: 'on' }] });
        await expect(pg.query(`delete from public.customers where false`)).rejects.toThrow(/read-only transaction/);
        // A login cannot switch to a more privileged role (SET ROLE checks the session user's memberships).
        await expect(pg.query('set role postgres')).rejects.toThrow(/permission denied/);
        // The privileges below must hold even for a session that turns the read-only default off.
        await pg.query('set default_transaction_read_only = off');
      }
    });

    it('can select from every bi view', async () => {
      for (const v of ['customer_scores', 'customer_segments', 'customer_features', 'customer_features_v1']) {
        const [row] = (await asBi(`select count(*)::int as n from bi.${v}`)) as { n: number }[];
        expect(row!.n).toBeGreaterThanOrEqual(N);
      }
    });

    it('cannot read, insert, update, delete or truncate any table, nor create objects', async () => {
      const tables = await q<{ name: string; col: string }>(
        `select quote_ident(c.relname) as name, (select quote_ident(attname) from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by attnum limit 1) as col
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1`,
      );
      expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['customers', 'scores', 'feature_snapshots', 'customer_segments', 'api_keys']));
      for (const { name, col } of tables) {
        await denied(`select 1 from public.${name} limit 1`);
        // Each statement would change nothing even if it were allowed.
        await denied(`insert into public.${name} select * from public.${name} where false`);
        await denied(`update public.${name} set ${col} = ${col} where false`);
        await denied(`delete from public.${name} where false`);
      }
      // TRUNCATE is checked before it does anything; still, only on a table whose rows are test data.
      await denied(`truncate public.feature_snapshots`);
      await denied(`create table public.bi_probe (id int)`);
      await denied(`create table bi.bi_probe (id int)`);
      await denied(`create view bi.bi_probe as select 1 as x`);
    });

    it('cannot write through the views', async () => {
      for (const v of ['customer_scores', 'customer_segments', 'customer_features', 'customer_features_v1']) {
        // The views join tables, so PostgreSQL rejects writes before it checks privileges; the privilege
        // check below is what keeps a future single-table (auto-updatable) view read-only too.
        for (const sql of [`insert into bi.${v} select * from bi.${v} where false`, `update bi.${v} set customer_id = customer_id where false`, `delete from bi.${v} where false`]) {
          await expect(asBi(sql)).rejects.toThrow(/permission denied|cannot (insert into|update|delete from) view/);
        }
      }
    });

    it('holds no write privilege on any relation in schemas public and bi', async () => {
      const grants = await q<{ rel: string; privilege: string }>(
        `select n.nspname || '.' || c.relname as rel, p.privilege
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         cross join unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) as p(privilege)
         where n.nspname in ('public', 'bi') and c.relkind in ('r', 'p', 'v', 'm', 'S')
           and has_table_privilege($1, c.oid, p.privilege)`,
        role,
      );
      expect(grants).toEqual([]);
      const [schemas] = await q<{ bi_usage: boolean; bi_create: boolean; public_create: boolean; reads_customers: boolean }>(
        `select has_schema_privilege($1, 'bi', 'USAGE') as bi_usage, has_schema_privilege($1, 'bi', 'CREATE') as bi_create,
           has_schema_privilege($1, 'public', 'CREATE') as public_create, has_table_privilege($1, 'public.customers', 'SELECT') as reads_customers`,
        role,
      );
      expect(schemas).toEqual({ bi_usage: true, bi_create: false, public_create: false, reads_customers: false });
    });
  });

  it('the group-role SQL only notes a migrating role without CREATEROLE, and still succeeds', async () => {
    // valuegraph_bi already exists cluster-wide, so the same text runs against a fresh group name and schema.
    const owner = `vg_bi_owner_${tag.slice(3)}`;
    const group = `vg_bi_group_${tag.slice(3)}`;
    const schema = `bi_probe_${tag.slice(3)}`;
    const sql = BI_GROUP_ROLE_SQL.replaceAll(BI_GROUP_ROLE, group).replace(/\bSCHEMA bi\b/g, `SCHEMA ${schema}`);
    expect(sql).not.toContain(BI_GROUP_ROLE);
    await q(`create role ${owner} nologin nocreaterole`);
    try {
      await q(`create schema ${schema} authorization ${owner}`);
      await app.db.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(`set local role ${owner}`);
        await tx.$executeRawUnsafe(sql);
      });
      expect(await q(`select 1 from pg_roles where rolname = $1`, group)).toEqual([]);
    } finally {
      await q(`drop schema if exists ${schema} cascade`);
      await q(`drop role if exists ${group}`);
      await q(`drop role ${owner}`);
    }
  });

  describe('export round trips', () => {
    type Row = Record<string, unknown>;
    const expected = async (view: string, columns: ExportColumn[]) => q<Row>(`select ${selectList(columns)} from bi.${view} order by customer_id`);

    /** Compares one exported value (as read back) with the database's value for its column kind. */
    const same = (c: ExportColumn, got: unknown, want: unknown) => {
      if (want === null || want === undefined) return got === null || got === undefined;
      switch (c.kind) {
        case 'decimal':
          return typeof got === 'string' ? got === want : (got as number).toFixed(c.scale) === want;
        case 'timestamp':
          return new Date(got as string | Date).getTime() === (want as Date).getTime();
        case 'int32':
        case 'int64':
        case 'double':
          return Number(got) === Number(want);
        default:
          return got === want;
      }
    };
    const expectEqual = (columns: ExportColumn[], got: Row[], want: Row[]) => {
      expect(got).toHaveLength(want.length);
      const bad: string[] = [];
      want.forEach((w, i) => {
        for (const c of columns) if (!same(c, got[i]![c.name], w[c.name])) bad.push(`row ${i} ${c.name}: ${String(got[i]![c.name])} != ${String(w[c.name])}`);
      });
      expect(bad.slice(0, 5)).toEqual([]);
    };

    it.each(EXPORT_KINDS.flatMap((k) => [[k, 'csv'], [k, 'parquet']] as const))('%s as %s reads back equal, in several pages', async (kind, format) => {
      const view = EXPORT_VIEWS[kind];
      const out = path.join(dir, `${kind}.${format}`);
      const progress: number[] = [];
      const summary = await runExport(app.db.prisma, { kind, format, out, pageSize: 97, rowGroupRows: 120, onProgress: (done) => progress.push(done) });
      const columns = await viewColumns(app.db.prisma, view);
      const want = await expected(view, columns);
      expect(summary).toMatchObject({ rows: want.length, columns: columns.length, view: `bi.${view}` });
      expect(want.length).toBeGreaterThanOrEqual(N);
      expect(progress.length).toBeGreaterThan(3);
      expect(progress.at(-1)).toBe(want.length);
      expect(fs.existsSync(`${out}.partial`)).toBe(false);
      let got: Row[];
      if (format === 'csv') {
        const text = fs.readFileSync(out, 'utf8');
        expect(text.startsWith(`${columns.map((c) => c.name).join(',')}\r\n`)).toBe(true);
        // An empty unquoted field is NULL, a quoted empty one the empty string.
        got = parse(text, { columns: true, cast: (value, ctx) => (ctx.quoting || value !== '' ? value : null) }) as Row[];
      } else {
        const hp = await importEsm<Hyparquet>('hyparquet');
        const file = await hp.asyncBufferFromFile(out);
        const meta = await hp.parquetMetadataAsync(file);
        expect(meta.row_groups.length).toBe(Math.ceil(want.length / 120));
        got = (await hp.parquetReadObjects({ file })) as Row[];
      }
      expectEqual(columns, got, want);
      if (kind === 'scores') {
        const first = got.find((r) => Number(r.customer_id) === ids[0]);
        expect(first).toMatchObject({ external_id: ext(0), region: null });
        expect(got.find((r) => Number(r.customer_id) === ids[1])).toMatchObject({ region: '' });
      }
    });

    it('a failed export leaves no file behind', async () => {
      const out = path.join(dir, 'missing-dir', 'x.csv');
      await expect(runExport(app.db.prisma, { kind: 'scores', format: 'csv', out })).rejects.toThrow();
      expect(fs.existsSync(out) || fs.existsSync(`${out}.partial`)).toBe(false);
    });
  });
});
