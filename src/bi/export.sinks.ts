/**
 * Where exported pages go. Both sinks keep at most one row group (parquet) or one page (CSV) in memory and
 * write to `<out>.partial`, renamed to `<out>` only when the export completed: a failed export never leaves a
 * truncated file under the requested name.
 */
import fs from 'node:fs';
import { badInput } from '../lib/errors';
import { importEsm } from '../lib/import-esm';
import { csvRecord } from './csv.format';
import type { ExportColumn } from './export-columns';

type Writer = typeof import('hyparquet-writer', { with: { 'resolution-mode': 'import' } });
/** hyparquet-writer bundles its own hyparquet, whose types are the ones its writer accepts. */
type SchemaElement = ConstructorParameters<Writer['ParquetWriter']>[0]['schema'][number];

export interface RowSink {
  /** Rows as arrays in column order. */
  write(rows: readonly unknown[][]): Promise<void>;
  finish(): Promise<void>;
  abort(): Promise<void>;
}

export const EXPORT_FORMATS = ['csv', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** --format wins; otherwise the file extension decides. */
export function exportFormatFor(out: string, format?: string): ExportFormat {
  const f = format ?? (/\.parquet$/i.test(out) ? 'parquet' : /\.csv$/i.test(out) ? 'csv' : undefined);
  if (!f) throw badInput('say --format csv|parquet (the output file name has neither extension)');
  if (!(EXPORT_FORMATS as readonly string[]).includes(f)) throw badInput(`--format must be csv or parquet, got ${f}`);
  return f as ExportFormat;
}

export function partialPath(out: string): string {
  return `${out}.partial`;
}

export async function openSink(format: ExportFormat, out: string, columns: readonly ExportColumn[], opts: { rowGroupRows?: number } = {}): Promise<RowSink> {
  return format === 'csv' ? csvSink(out, columns) : parquetSink(out, columns, opts.rowGroupRows ?? 25_000);
}

async function csvSink(out: string, columns: readonly ExportColumn[]): Promise<RowSink> {
  const tmp = partialPath(out);
  const stream = fs.createWriteStream(tmp);
  const failed = new Promise<never>((_, reject) => stream.once('error', reject));
  failed.catch(() => {});
  const put = async (chunk: string) => {
    // Respect backpressure: a slow disk must not let pages pile up in memory.
    if (!stream.write(chunk)) await Promise.race([new Promise<void>((r) => stream.once('drain', () => r())), failed]);
  };
  await put(csvRecord(columns.map((c) => c.name)));
  return {
    async write(rows) {
      let chunk = '';
      for (const r of rows) chunk += csvRecord(r);
      await put(chunk);
    },
    async finish() {
      await Promise.race([new Promise<void>((r) => stream.end(() => r())), failed]);
      fs.renameSync(tmp, out);
    },
    async abort() {
      stream.destroy();
      fs.rmSync(tmp, { force: true });
    },
  };
}

export function parquetSchema(columns: readonly ExportColumn[]): SchemaElement[] {
  const leaf = (c: ExportColumn): SchemaElement => {
    const base = { name: c.name, repetition_type: 'OPTIONAL' as const };
    switch (c.kind) {
      case 'int32':
        return { ...base, type: 'INT32' };
      case 'int64':
        return { ...base, type: 'INT64' };
      case 'double':
        return { ...base, type: 'DOUBLE' };
      case 'decimal':
        return { ...base, type: 'INT64', converted_type: 'DECIMAL', precision: c.precision, scale: c.scale };
      case 'timestamp':
        return { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' };
      case 'boolean':
        return { ...base, type: 'BOOLEAN' };
      default:
        return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8' };
    }
  };
  return [{ name: 'root', num_children: columns.length }, ...columns.map(leaf)];
}

/** Exact unscaled integer of a numeric's text at `scale` ("12.5" at scale 4 → 125000n). */
export function unscaledDecimal(text: string, scale: number): bigint {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal number: ${text}`);
  const frac = (m[3] ?? '').padEnd(scale, '0');
  if (frac.length > scale && /[1-9]/.test(frac.slice(scale))) throw new Error(`${text} has more than ${scale} decimals`);
  const digits = BigInt(`${m[2] || '0'}${frac.slice(0, scale)}`);
  return m[1] ? -digits : digits;
}

function toParquetValue(c: ExportColumn, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (c.kind) {
    case 'decimal':
      return unscaledDecimal(String(v), c.scale ?? 0);
    case 'int64':
      return BigInt(v as number | bigint | string);
    case 'int32':
    case 'double':
      return Number(v);
    case 'timestamp':
      return v instanceof Date ? v : new Date(String(v));
    case 'boolean':
      return Boolean(v);
    default:
      return String(v);
  }
}

async function parquetSink(out: string, columns: readonly ExportColumn[], rowGroupRows: number): Promise<RowSink> {
  const { ParquetWriter, fileWriter } = await importEsm<Writer>('hyparquet-writer');
  const tmp = partialPath(out);
  // fileWriter buffers about 1 MB and appends it to the file; row groups are written as they fill.
  const writer = new ParquetWriter({ writer: fileWriter(tmp), schema: parquetSchema(columns), createdBy: 'valuegraph export' });
  let buffered: unknown[][] = columns.map(() => []);
  let count = 0;
  const flush = async () => {
    if (!count) return;
    const columnData = columns.map((c, i) => ({ name: c.name, data: buffered[i]! }));
    await writer.write({ columnData: columnData as never, rowGroupSize: count });
    buffered = columns.map(() => []);
    count = 0;
  };
  return {
    async write(rows) {
      for (const r of rows) {
        for (let i = 0; i < columns.length; i++) buffered[i]!.push(toParquetValue(columns[i]!, r[i]));
        if (++count >= rowGroupRows) await flush();
      }
    },
    async finish() {
      await flush();
      await writer.finish();
      fs.renameSync(tmp, out);
    },
    async abort() {
      fs.rmSync(tmp, { force: true });
    },
  };
}
