import fs from 'node:fs';
import { once } from 'node:events';
import type { z } from 'zod';
import type { PrismaClient } from '../../generated/prisma/client';
import { badInput } from '../../lib/errors';
import { MAX_BATCH, commentRow, customerRow, transactionRow } from '../ingest.schemas';
import { eventRowImport } from '../../events/event-row.fast';
import { EventsCopyPool } from '../../events/events-copy.pool';
import type { EventRow } from '../../events/events.schemas';
import { cdnowFormat } from './cdnow.format';
import { type Mapping, genericFormat, parseMapping } from './generic.format';
import { openSource } from './import.source';
import type { Emit, Entity, Format, FormatName, Issue } from './import.types';
import { type BatchResult, type ImportRow, writeBatch, writeEventsCopy } from './import.writer';
import { onlineRetailFormat } from './online-retail.format';

export interface ImportOptions {
  entity: Entity;
  file: string;
  format?: FormatName;
  mapping?: unknown;
  /** Default `FILE.rejects.ndjson`. Always (re)written, so an empty file means nothing was rejected. */
  rejectsFile?: string;
  batchSize?: number;
  delimiter?: string;
  /** Parse, group and validate only; nothing is written (the benchmark's parse-only baseline). */
  dryRun?: boolean;
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /**
   * PostgreSQL connection string of the database `prisma` writes to. With it, events are written through COPY on a
   * dedicated connection (src/events/events-copy.writer.ts); without it (PGlite), through Prisma like the rest.
   */
  databaseUrl?: string;
  /** Connections the COPY path writes each batch over (IMPORT_EVENTS_CONNECTIONS; default 1). */
  copyConnections?: number;
}

export interface ImportSummary {
  file: string;
  entity: Entity;
  format: FormatName;
  dryRun: boolean;
  /** Data lines/records read (not the header). */
  linesRead: number;
  /** Rows handed to the database: one per line, or one per invoice for online-retail. */
  rowsValid: number;
  inserted: number;
  updated: number;
  unchanged: number;
  customersCreated: number;
  commentsChanged: number;
  /** Events whose search text is new or changed (queued for embedding). */
  searchesChanged: number;
  rejectedLines: number;
  skippedLines: number;
  skipped: Record<string, number>;
  rejectsFile: string;
  batches: number;
  seconds: number;
  /** CPU time of this process (user + system) over the whole import, for comparisons on a busy machine. */
  cpuSeconds: number;
  peakRssMb: number;
}

// Events use a hand-written fast path with zod's safeParse contract (src/events/event-row.fast.ts).
const SCHEMAS: Record<Entity, { safeParse(data: unknown): z.ZodSafeParseResult<unknown> }> = { customers: customerRow, transactions: transactionRow, comments: commentRow, events: eventRowImport };

export function createFormat(entity: Entity, format: FormatName = 'generic', mapping?: Mapping): Format {
  if (format !== 'generic' && entity !== 'transactions') throw badInput(`format ${format} holds transactions only`);
  if (format === 'online-retail') return onlineRetailFormat();
  if (format === 'cdnow' || format === 'cdnow-sample') return cdnowFormat(format === 'cdnow-sample');
  return genericFormat(entity, mapping);
}

/**
 * Streams FILE into the database: parse → format rows → validate each row with the ingest schema → batched
 * upserts. Bad rows go to the rejects file and do not stop the import (unlike the all-or-nothing GraphQL
 * mutations). Parsing the next batch overlaps with writing the previous one; at most one write is in flight,
 * and the reader is only pulled while fewer than two batches are held, so memory does not grow with the file.
 */
export async function runImport(prisma: PrismaClient | null, opts: ImportOptions): Promise<ImportSummary> {
  const started = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const batchSize = opts.batchSize ?? 2000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) throw badInput(`--batch-size must be 1..${MAX_BATCH}`);
  const format = createFormat(opts.entity, opts.format, parseMapping(opts.entity, opts.mapping));
  const source = openSource(opts.file, { kind: format.sourceKind, delimiter: opts.delimiter, positional: format.positional });
  const schema = SCHEMAS[opts.entity];
  const rejectsFile = opts.rejectsFile ?? `${opts.file}.rejects.ndjson`;
  // databaseUrl is passed only for PostgreSQL with IMPORT_EVENTS_COPY on (the command decides; see config/env.ts).
  const copy = opts.entity === 'events' && opts.databaseUrl && prisma && !opts.dryRun;
  const eventsCopy = copy ? await EventsCopyPool.open(opts.databaseUrl!, opts.copyConnections ?? 1) : null;
  const rejects = fs.createWriteStream(rejectsFile);
  const s: ImportSummary = {
    file: opts.file,
    entity: opts.entity,
    format: format.name,
    dryRun: !!opts.dryRun || !prisma,
    linesRead: 0,
    rowsValid: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    customersCreated: 0,
    commentsChanged: 0,
    searchesChanged: 0,
    rejectedLines: 0,
    skippedLines: 0,
    skipped: {},
    rejectsFile,
    batches: 0,
    seconds: 0,
    cpuSeconds: 0,
    peakRssMb: 0,
  };

  let batch: ImportRow[] = [];
  let batchLines = new Map<string, number>();
  let inflight: Promise<void> = Promise.resolve();
  let writing = false;
  let failure: unknown;

  const reject = (line: number, issues: Issue[], extra: { lines?: number[]; record?: unknown } = {}) => {
    s.rejectedLines += extra.lines?.length ?? 1;
    const lines = extra.lines && extra.lines.length > 1 ? { lines: extra.lines } : {};
    rejects.write(`${JSON.stringify({ line, ...lines, issues, record: extra.record })}\n`);
  };

  const startWrite = async () => {
    const rows = batch;
    batch = [];
    batchLines = new Map();
    // Encoded while the previous batch is still in the database, which would otherwise wait for it.
    const encoded = eventsCopy?.encode(rows.map((r) => r.row as EventRow));
    await inflight;
    if (failure) throw failure;
    s.batches++;
    if (opts.dryRun || !prisma) return;
    writing = true;
    inflight = (encoded ? writeEventsCopy(eventsCopy!, encoded) : writeBatch(prisma, opts.entity, rows)).then(
      (r: BatchResult) => {
        s.inserted += r.inserted;
        s.updated += r.updated;
        s.unchanged += r.unchanged;
        s.customersCreated += r.customersCreated;
        s.commentsChanged += r.commentsChanged;
        s.searchesChanged += r.searchesChanged ?? 0;
      },
      (err: unknown) => {
        failure = err;
      },
    ).finally(() => {
      writing = false;
    });
  };

  // Synchronous on purpose: a promise per row cost as much as parsing. Only full batches are awaited.
  const handle = (e: Emit) => {
    if (e.type === 'skip') {
      s.skippedLines++;
      s.skipped[e.reason] = (s.skipped[e.reason] ?? 0) + 1;
      return;
    }
    if (e.type === 'reject') return reject(e.line, e.issues, { lines: e.lines, record: e.record });
    const r = schema.safeParse(e.data);
    if (!r.success) {
      const issues = r.error.issues.map((i) => ({ field: format.column(i.path.join('.') || 'row'), message: i.message }));
      return reject(e.line, issues, { lines: e.lines, record: e.record ?? (e.lines ? undefined : e.data) });
    }
    const row = r.data as { externalId: string };
    // Postgres cannot upsert one key twice in one statement; across batches the later line simply wins.
    const first = batchLines.get(row.externalId);
    if (first !== undefined) {
      return reject(e.line, [{ field: format.column('externalId'), message: `duplicates line ${first} (same id in one batch)` }], { lines: e.lines });
    }
    batchLines.set(row.externalId, e.line);
    batch.push({ entity: opts.entity, row, customerRegion: e.customerRegion } as ImportRow);
    s.rowsValid++;
  };

  const out: Emit[] = [];
  const emitAll = async () => {
    for (const e of out) {
      handle(e);
      if (batch.length >= batchSize) await startWrite();
    }
    out.length = 0;
  };
  try {
    let sinceYield = 0;
    for await (const chunk of source.records) {
      for (const r of chunk) {
        s.linesRead++;
        // A chunk is parsed synchronously (~10 ms for 256 KB); meanwhile the write in flight cannot move to its next
        // statement. Letting I/O through every 64 records (~0.5 ms) keeps the database busy instead of waiting on us.
        if (writing && ++sinceYield >= 64) {
          sinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        format.map(r, out);
        for (const e of out) {
          handle(e);
          if (batch.length >= batchSize) await startWrite();
        }
        out.length = 0;
      }
      if (rejects.writableNeedDrain) await once(rejects, 'drain');
      opts.onProgress?.(source.bytesRead(), source.totalBytes);
    }
    format.flush(out);
    await emitAll();
    if (batch.length) await startWrite();
    await inflight;
    if (failure) throw failure;
    opts.onProgress?.(source.totalBytes, source.totalBytes);
  } finally {
    await inflight;
    await eventsCopy?.close();
    rejects.end();
    await once(rejects, 'close').catch(() => {});
  }
  s.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  s.cpuSeconds = (cpu.user + cpu.system) / 1e6;
  s.peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  return s;
}
