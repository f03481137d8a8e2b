/**
 * Dev/test only: drift check between prisma/migrations and prisma/schema.prisma with Prisma's schema engine
 * (the npm wasm build; no native binary, no PostgreSQL server). The migrations are applied by our own runner
 * to an in-memory PGlite with pgvector, and the engine diffs that database against the schema.
 *
 * Why not the engine's own "migrations" diff source (shadow database): in the wasm engine it drops the
 * extensions it reads back from the shadow (the postgresqlExtensions preview flag is not passed to the
 * shadow connector), so every diff wanted `CREATE EXTENSION "vector"` again. Diffing the migrated database
 * as a "schemaDatasource" reads the preview flags from the schema we pass and also checks our runner.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { bindMigrationAwareSqlAdapterFactory, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type { DiffParams, SchemaEngine } from '@prisma/schema-engine-wasm' with { 'resolution-mode': 'import' };
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { applyMigrations, defaultMigrationsDir, pgliteDriver } from './migrate';

export interface DiffOptions {
  /** Migrations directory to diff from; default prisma/migrations. */
  migrationsDir?: string;
}

interface EngineModule {
  SchemaEngine: {
    new: (opts: { datamodels: [string, string][] | undefined }, log: (msg: string) => void, adapter: object) => Promise<SchemaEngine>;
  };
}

// @types/node 20 does not declare the WebAssembly global; these are the parts used here.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, unknown>) => { exports: Record<string, unknown> };
};

interface Session {
  engine: SchemaEngine;
  pglite: PGlite;
}

/** Indexes that only live in hand-written migrations (schema.prisma cannot express HNSW); never drift. */
const KNOWN_SQL_ONLY_INDEX_DROP = /^DROP INDEX "(?:\w+"\.")?\w+_hnsw_\d+";$/;
const EMPTY_MIGRATION = '-- This is an empty migration.';

let session: Promise<Session> | undefined;
// The engine's panic hook writes here (see __wbg_set_message in the glue); without it a panic is a TypeError.
let lastPanic: string | undefined;

export function schemaPath(): string {
  return path.join(path.dirname(defaultMigrationsDir()), 'schema.prisma');
}

/**
 * SQL that takes a database built from the migrations directory to `schema` (default: the text of
 * prisma/schema.prisma), without drops of our SQL-only HNSW indexes. '' means no drift.
 */
export async function diffMigrationsAgainstSchema(schema?: string, opts: DiffOptions = {}): Promise<string> {
  const content = schema ?? fs.readFileSync(schemaPath(), 'utf8');
  const { engine, pglite } = await openSession();
  await pglite.exec('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;');
  await applyMigrations(pgliteDriver(pglite), { dir: opts.migrationsDir ?? defaultMigrationsDir() });
  const files = [{ path: 'schema.prisma', content }];
  const params: DiffParams = {
    from: { tag: 'schemaDatasource', files, configDir: path.dirname(schemaPath()) },
    to: { tag: 'schemaDatamodel', files },
    script: true,
    exitCode: null,
    filters: { externalTables: [], externalEnums: [] },
  };
  const result = await withPanicMessage(() => engine.diff(params));
  return filterKnownIndexDrops(result.stdout ?? '');
}

/** Frees the engine and its PGlite; the next diff starts afresh. Call it before the process or test ends. */
export async function closeSchemaDiff(): Promise<void> {
  const s = session;
  session = undefined;
  if (!s) return;
  const { engine, pglite } = await s;
  engine.free();
  await pglite.close();
}

export function filterKnownIndexDrops(script: string): string {
  // The engine writes a "-- Step" comment line before each step's statement(s).
  const sections = script.split(/^(?=-- \w)/m);
  const kept = sections.filter((section) => {
    const sql = section.split('\n').filter((l) => l.trim() && !l.startsWith('--'));
    return sql.length > 0 && !sql.every((l) => KNOWN_SQL_ONLY_INDEX_DROP.test(l.trim()));
  });
  const out = kept.join('').trim();
  return out === EMPTY_MIGRATION || out === '' ? '' : `${out}\n`;
}

function openSession(): Promise<Session> {
  if (session) return session;
  const opening = (async (): Promise<Session> => {
    const pglite = await PGlite.create({ extensions: { vector } });
    const inner = new PrismaPGlite(pglite);
    const factory: SqlMigrationAwareDriverAdapterFactory = {
      provider: 'postgres',
      adapterName: inner.adapterName,
      connect: () => inner.connect(),
      connectToShadowDb: () => Promise.reject(new Error('schema-diff uses no shadow database')),
    };
    try {
      const mod = loadEngineModule();
      // Each diff passes its schema explicitly, so the engine needs none at construction.
      const engine = await withPanicMessage(() =>
        mod.SchemaEngine.new({ datamodels: undefined }, () => {}, bindMigrationAwareSqlAdapterFactory(factory)),
      );
      return { engine, pglite };
    } catch (err) {
      await pglite.close();
      throw err;
    }
  })();
  session = opening;
  opening.catch(() => {
    if (session === opening) session = undefined;
  });
  return opening;
}

/**
 * The wasm glue is an ES module, which Jest cannot load from CommonJS on Node 20 (its require rejects ES
 * modules and @swc/jest turns `import()` into `require()`). The glue only declares `export function` /
 * `export class`, so it is evaluated as a function body instead; that works the same under tsx and node. Each call makes a fresh wasm
 * instance: one engine per instance, since a second SchemaEngine.new on the same instance panics.
 */
function loadEngineModule(): EngineModule {
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const names: string[] = [];
  const body = fs
    .readFileSync(gluePath, 'utf8')
    .replace(/^export (function|class) (\w+)/gm, (_m, kind: string, name: string) => {
      names.push(name);
      return `${kind} ${name}`;
    });
  if (/^\s*(export|import)\b/m.test(body)) throw new Error(`unexpected module syntax in ${gluePath}; update loadEngineModule`);
  const glue = new Function('module', `${body}\nreturn { ${names.join(', ')} };`)({ require }) as Record<string, unknown>;
  const wasmModule = new WebAssembly.Module(fs.readFileSync(gluePath.replace(/\.js$/, '.wasm')));
  const instance = new WebAssembly.Instance(wasmModule, { './schema_engine_bg.js': glue });
  (glue.__wbg_set_wasm as (w: unknown) => void)(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(m: string): void } };
  g.PRISMA_WASM_PANIC_REGISTRY ??= { set_message: (m) => (lastPanic = m) };
  return glue as unknown as EngineModule;
}

async function withPanicMessage<T>(fn: () => Promise<T>): Promise<T> {
  lastPanic = undefined;
  try {
    return await fn();
  } catch (err) {
    if (lastPanic) throw new Error(`schema engine panicked: ${lastPanic}`, { cause: err });
    throw err;
  }
}
