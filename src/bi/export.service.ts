/**
 * `valuegraph export`: streams one BI view to CSV or parquet in keyset pages (customer_id > last, limit n), so
 * memory holds one page (plus one parquet row group) whatever the number of customers. All pages are read in one
 * REPEATABLE READ transaction: the file is one consistent snapshot even while a scoring run rewrites scores.
 */
import fs from 'node:fs';
import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { badInput } from '../lib/errors';
import { EXPORT_VIEWS, type ExportKind, quoteIdent, selectList, viewColumns } from './export-columns';
import { type ExportFormat, openSink } from './export.sinks';

export interface ExportOptions {
  kind: ExportKind;
  format: ExportFormat;
  out: string;
  /** Rows per query. */
  pageSize?: number;
  /** Rows per parquet row group. */
  rowGroupRows?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ExportSummary {
  kind: ExportKind;
  format: ExportFormat;
  file: string;
  view: string;
  columns: number;
  rows: number;
  bytes: number;
  seconds: number;
  /** Peak resident set size of this process so far (benchmarks compare it across export sizes). */
  peakRssMb: number;
}

const DAY_MS = 86_400_000;

export async function runExport(db: PrismaClient, opts: ExportOptions): Promise<ExportSummary> {
  const view = EXPORT_VIEWS[opts.kind];
  if (!view) throw badInput(`unknown export ${String(opts.kind)}; one of ${Object.keys(EXPORT_VIEWS).join(', ')}`);
  const pageSize = opts.pageSize ?? 5000;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100_000) throw badInput('page size must be an integer in 1..100000');
  if (opts.rowGroupRows !== undefined && !(Number.isInteger(opts.rowGroupRows) && opts.rowGroupRows >= 1 && opts.rowGroupRows <= 1_000_000)) {
    throw badInput('row group size must be an integer in 1..1000000');
  }
  const started = Date.now();
  return db.$transaction(
    async (tx) => {
      const columns = await viewColumns(tx, view);
      if (columns[0]?.name !== 'customer_id') throw badInput(`bi.${view} must start with customer_id to be paged`);
      const from = `bi.${quoteIdent(view)}`;
      const total = Number((await tx.$queryRawUnsafe<{ n: number }[]>(`select count(*)::int as n from ${from}`))[0]?.n ?? 0);
      opts.onProgress?.(0, total);
      // Identifiers come from information_schema and a fixed view list; the page bounds are bind parameters.
      const pageSql = `select ${selectList(columns)} from ${from} where customer_id > $1 order by customer_id limit $2`;
      const sink = await openSink(opts.format, opts.out, columns, { rowGroupRows: opts.rowGroupRows });
      let rows = 0;
      try {
        for (let after = 0; ; ) {
          const page = await tx.$queryRawUnsafe<Record<string, unknown>[]>(pageSql, after, pageSize);
          if (!page.length) break;
          await sink.write(page.map((r) => columns.map((c) => r[c.name])));
          rows += page.length;
          after = Number(page[page.length - 1]!.customer_id);
          opts.onProgress?.(rows, Math.max(total, rows));
          if (page.length < pageSize) break;
        }
        await sink.finish();
      } catch (err) {
        await sink.abort();
        throw err;
      }
      return {
        kind: opts.kind,
        format: opts.format,
        file: opts.out,
        view: `bi.${view}`,
        columns: columns.length,
        rows,
        bytes: fs.statSync(opts.out).size,
        seconds: (Date.now() - started) / 1000,
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      };
    },
    // An export may run for a long time; it holds one connection and one snapshot meanwhile.
    { isolationLevel: Prisma.TransactionIsolationLevel.RepeatableRead, timeout: DAY_MS, maxWait: 60_000 },
  );
}
