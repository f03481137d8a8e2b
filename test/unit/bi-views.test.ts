/**
 * The BI views are hand-written SQL; these checks keep them tied to the code they mirror, and cover the pure
 * parts of the exports (CSV quoting, exact decimals, type mapping).
 */
import fs from 'node:fs';
import path from 'node:path';
import { BI_GROUP_ROLE_SQL } from '../../src/bi/bi-role.sql';
import { validateRoleName } from '../../src/bi/bi-role.service';
import { csvField, csvRecord } from '../../src/bi/csv.format';
import { columnKind, selectList } from '../../src/bi/export-columns';
import { exportFormatFor, parquetSchema, unscaledDecimal } from '../../src/bi/export.sinks';
import { featuresViewSql } from '../../src/bi/features-view.sql';
import { CHAMPION_VERSION_ID } from '../../src/customers/champion.sql';
import { defaultMigrationsDir, listMigrations } from '../../src/db/migrate';

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();
const migrations = listMigrations(defaultMigrationsDir());
const biMigration = migrations.find((m) => m.name === '0006_bi_views')!;

describe('BI view migrations', () => {
  test('0006_bi_views exists and carries the group role SQL of src/bi/bi-role.sql.ts verbatim', () => {
    expect(biMigration).toBeDefined();
    expect(biMigration.sql).toContain(BI_GROUP_ROLE_SQL);
  });

  test('bi.customer_scores selects the champion exactly as src/customers/champion.sql.ts does', () => {
    const scores = squash(biMigration.sql.slice(biMigration.sql.indexOf('CREATE VIEW bi.customer_scores')));
    expect(scores).toContain(`WHERE s.model_version_id = ${squash(CHAMPION_VERSION_ID.sql)};`);
  });

  test('the newest bi.customer_features_vN matches the current FEATURE_SET and FEATURE_NAMES, and the alias points at it', () => {
    // A failure here means the feature set changed: add a migration from `npx tsx scripts/bi-features-view.ts v<N+1>`.
    const versions = migrations.flatMap((m) => [...m.sql.matchAll(/CREATE VIEW bi\.customer_features_(v\d+) AS/g)].map((x) => ({ m, v: x[1]! })));
    const newest = versions.sort((a, b) => Number(a.v.slice(1)) - Number(b.v.slice(1))).at(-1)!;
    expect(newest).toBeDefined();
    expect(newest.m.sql).toContain(featuresViewSql(newest.v));
    const aliases = migrations.flatMap((m) => [...m.sql.matchAll(/CREATE VIEW bi\.customer_features AS SELECT \* FROM bi\.customer_features_(v\d+);/g)].map((x) => x[1]));
    expect(aliases.at(-1)).toBe(newest.v);
  });

  test('the features view generator refuses names that are not plain identifiers', () => {
    expect(() => featuresViewSql('v2', 'behaviour-v1', ["x'); drop table customers; --"])).toThrow(/identifier/);
    expect(() => featuresViewSql('2')).toThrow(/version/);
  });
});

describe('CSV (RFC 4180)', () => {
  test('quotes only fields that need it, doubling quotes; NULL is empty, the empty string is ""', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvField('lf\nonly')).toBe('"lf\nonly"');
    expect(csvField('')).toBe('""');
    expect(csvField(null)).toBe('');
    expect(csvField(undefined)).toBe('');
    expect(csvField(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(csvField(12n)).toBe('12');
    expect(csvField(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).toBe('2026-01-02T03:04:05.006Z');
  });

  test('records end with CRLF', () => {
    expect(csvRecord([1, 'a,b', null, ''])).toBe('1,"a,b",,""\r\n');
  });
});

describe('export types', () => {
  test('numeric text becomes an exact unscaled integer', () => {
    expect(unscaledDecimal('123.45', 4)).toBe(1234500n);
    expect(unscaledDecimal('-0.0001', 4)).toBe(-1n);
    expect(unscaledDecimal('99999999999999.9999', 4)).toBe(999999999999999999n);
    expect(unscaledDecimal('7', 0)).toBe(7n);
    expect(unscaledDecimal('1.50000', 4)).toBe(15000n);
    expect(() => unscaledDecimal('1.00001', 4)).toThrow(/decimals/);
    expect(() => unscaledDecimal('1e5', 4)).toThrow(/decimal/);
  });

  test('PostgreSQL types map to export kinds; wide or unconstrained numerics stay text', () => {
    const k = (data_type: string, p: number | null = null, s: number | null = null) =>
      columnKind({ column_name: 'c', data_type, numeric_precision: p, numeric_scale: s });
    expect(k('integer').kind).toBe('int32');
    expect(k('double precision').kind).toBe('double');
    expect(k('numeric', 18, 4)).toEqual({ name: 'c', kind: 'decimal', precision: 18, scale: 4 });
    expect(k('numeric', 30, 4).kind).toBe('numeric_text');
    expect(k('numeric').kind).toBe('numeric_text');
    expect(k('timestamp with time zone').kind).toBe('timestamp');
    expect(k('text').kind).toBe('text');
    expect(() => k('jsonb')).toThrow(/jsonb/);
  });

  test('numerics are selected as text, identifiers quoted', () => {
    expect(selectList([{ name: 'customer_id', kind: 'int32' }, { name: 'clv', kind: 'decimal', precision: 18, scale: 4 }, { name: 'we"ird', kind: 'text' }])).toBe(
      '"customer_id", "clv"::text as "clv", "we""ird"',
    );
  });

  test('parquet schema: optional leaves with DECIMAL(18,4) as INT64 and millisecond timestamps', () => {
    const schema = parquetSchema([
      { name: 'customer_id', kind: 'int32' },
      { name: 'clv', kind: 'decimal', precision: 18, scale: 4 },
      { name: 'scored_at', kind: 'timestamp' },
    ]);
    expect(schema[0]).toEqual({ name: 'root', num_children: 3 });
    expect(schema[2]).toMatchObject({ type: 'INT64', converted_type: 'DECIMAL', precision: 18, scale: 4, repetition_type: 'OPTIONAL' });
    expect(schema[3]).toMatchObject({ type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' });
  });

  test('the format comes from --format or the file extension', () => {
    expect(exportFormatFor('x.parquet')).toBe('parquet');
    expect(exportFormatFor('x.CSV')).toBe('csv');
    expect(exportFormatFor('x.out', 'csv')).toBe('csv');
    expect(() => exportFormatFor('x.out')).toThrow(/--format/);
  });

  test('BI login role names are plain identifiers other than the group role', () => {
    expect(() => validateRoleName('looker_ro')).not.toThrow();
    for (const bad of ['Looker', 'pg_x', 'valuegraph_bi', 'a-b', 'x"; drop role postgres; --', '']) expect(() => validateRoleName(bad)).toThrow();
  });
});

test('migration directory is where the runner looks', () => {
  expect(fs.existsSync(path.join(defaultMigrationsDir(), '0006_bi_views', 'migration.sql'))).toBe(true);
});
