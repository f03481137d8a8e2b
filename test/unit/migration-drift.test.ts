/**
 * Fails when prisma/schema.prisma and prisma/migrations disagree: after editing the schema, run
 * `npx tsx scripts/migration-new.ts <name>` and commit the migration it writes. Offline, no PostgreSQL.
 */
import fs from 'node:fs';
import { closeSchemaDiff, diffMigrationsAgainstSchema, filterKnownIndexDrops, schemaPath } from '../../src/db/schema-diff';

describe('schema engine diff of prisma/migrations against schema.prisma', () => {
  // Booting PGlite and the wasm engine takes a few seconds, more on a loaded machine.
  jest.setTimeout(60_000);
  afterAll(() => closeSchemaDiff());

  test('the migrations produce exactly prisma/schema.prisma', async () => {
    const drift = await diffMigrationsAgainstSchema();
    if (drift) throw new Error(`schema.prisma and prisma/migrations differ; the missing migration is:\n${drift}`);
    expect(drift).toBe('');
  });

  test('a schema change shows up as drift', async () => {
    const schema = fs.readFileSync(schemaPath(), 'utf8');
    const changed = schema.replace(/^model Customer \{\n/m, '$&  driftProbe String? @map("drift_probe")\n');
    expect(changed).not.toBe(schema);
    const drift = await diffMigrationsAgainstSchema(changed);
    expect(drift).toContain('ALTER TABLE "customers" ADD COLUMN');
    expect(drift).toContain('"drift_probe" TEXT');
  });
});

test('drops of the SQL-only HNSW indexes are not drift, other statements are kept', () => {
  const script = [
    '-- DropIndex',
    'DROP INDEX "comment_embeddings_hnsw_384";',
    '',
    '-- DropIndex',
    'DROP INDEX "customer_profile_embeddings_hnsw_768";',
    '',
    '-- CreateTable',
    'CREATE TABLE "x" (',
    '    "id" INTEGER NOT NULL,',
    '',
    '    CONSTRAINT "x_pkey" PRIMARY KEY ("id")',
    ');',
    '',
    '-- DropIndex',
    'DROP INDEX "customers_region_idx";',
    '',
  ].join('\n');
  const kept = filterKnownIndexDrops(script);
  expect(kept).not.toContain('hnsw');
  expect(kept).toContain('CONSTRAINT "x_pkey" PRIMARY KEY ("id")\n);');
  expect(kept).toContain('DROP INDEX "customers_region_idx";');
  expect(filterKnownIndexDrops('-- DropIndex\nDROP INDEX "comment_embeddings_hnsw_384";\n')).toBe('');
  expect(filterKnownIndexDrops('-- This is an empty migration.\n')).toBe('');
});
