import fs from 'node:fs';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { parse } from 'csv-parse';
import { badInput } from '../../lib/errors';

/** One input record with the 1-based line of the file it starts on (line 1 is a CSV header). */
export interface SourceRecord {
  line: number;
  rec: Record<string, unknown>;
}

export type SourceKind = 'csv' | 'ndjson' | 'whitespace';

export interface SourceOptions {
  kind?: SourceKind;
  delimiter?: string;
  /** Column names for headerless whitespace files (CDNOW). */
  positional?: string[];
}

export interface Source {
  kind: SourceKind;
  /** Bytes of the file as stored (compressed size for .gz): the progress bar's total. */
  totalBytes: number;
  bytesRead(): number;
  /** Records in chunks (one promise per chunk, not per record: per-record async iteration cost as much as parsing). */
  records: AsyncIterable<SourceRecord[]>;
}

/** Picks the reader from the extension (after an optional .gz); whitespace files are chosen by the format. */
export function sourceKind(file: string): SourceKind {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.csv') || name.endsWith('.tsv')) return 'csv';
  if (name.endsWith('.ndjson') || name.endsWith('.jsonl')) return 'ndjson';
  throw badInput(`cannot tell the format of "${file}" from its extension: use .csv, .tsv, .ndjson or .jsonl (optionally .gz)`);
}

/**
 * Streams records with backpressure: records are pulled by the consumer's `for await`, so while it awaits a
 * database write the file stream pauses after its high-water mark and memory stays constant.
 */
export function openSource(file: string, opts: SourceOptions = {}): Source {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw badInput(`cannot read "${file}": no such file`);
  }
  const kind = opts.kind ?? sourceKind(file);
  // bytesRead rather than a 'data' listener, which would switch the file stream to flowing mode.
  const raw = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
  const input: Readable = file.toLowerCase().endsWith('.gz') ? raw.pipe(zlib.createGunzip()) : raw;
  // pipe() does not forward errors: a read error must still end the iteration.
  if (input !== raw) raw.on('error', (err) => input.destroy(err));
  const delimiter = opts.delimiter ?? (file.toLowerCase().replace(/\.gz$/, '').endsWith('.tsv') ? '\t' : ',');
  const records =
    kind === 'csv' ? csvRecords(input, delimiter) : kind === 'ndjson' ? ndjsonRecords(input) : whitespaceRecords(input, opts.positional ?? []);
  return { kind, totalBytes: stat.size, bytesRead: () => raw.bytesRead, records };
}

async function* csvRecords(input: Readable, delimiter: string): AsyncGenerator<SourceRecord[]> {
  // Arrays, not `columns: true` or `info: true`: both cost more than the rest of the parse. Line numbers are
  // counted here instead: a record spans 1 + (newlines inside its quoted fields) lines.
  const parser = input.pipe(parse({ delimiter, bom: true, relax_column_count: true, relax_quotes: true }));
  input.on('error', (err) => parser.destroy(err));
  let header: string[] | undefined;
  let line = 1;
  for await (const chunk of chunks<string[]>(parser)) {
    const out: SourceRecord[] = [];
    for (const values of chunk) {
      const start = line;
      line += 1;
      for (const v of values) if (v.includes('\n')) line += v.split('\n').length - 1;
      if (!header) {
        header = values.map((h) => h.trim());
        continue;
      }
      if (values.length === 1 && values[0] === '') continue;
      const rec: Record<string, unknown> = {};
      for (let i = 0; i < header.length; i++) rec[header[i]!] = values[i];
      if (values.length > header.length) rec.__extra = values.slice(header.length);
      out.push({ line: start, rec });
    }
    if (out.length) yield out;
  }
}

/** Drains an object stream in chunks of what is already buffered, waiting only when it is empty. */
async function* chunks<T>(stream: Readable, max = 1024): AsyncGenerator<T[]> {
  let ended = false;
  let error: Error | undefined;
  let wake = () => {};
  stream.on('readable', () => wake());
  stream.on('end', () => {
    ended = true;
    wake();
  });
  stream.on('error', (err) => {
    error = err;
    wake();
  });
  try {
    for (;;) {
      const out: T[] = [];
      let v: T | null;
      while (out.length < max && (v = stream.read() as T | null) !== null) out.push(v);
      if (out.length) {
        yield out;
        continue;
      }
      if (error) throw error;
      if (ended) return;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    if (!ended) stream.destroy();
  }
}

/** Text lines in chunks, numbered from 1 (CRLF tolerated). */
async function* lines(input: Readable): AsyncGenerator<{ line: number; text: string }[]> {
  input.setEncoding('utf8');
  let rest = '';
  let line = 0;
  for await (const chunk of chunks<string>(input, 64)) {
    const parts = (rest + chunk.join('')).split('\n');
    rest = parts.pop()!;
    yield parts.map((t) => ({ line: ++line, text: t.endsWith('\r') ? t.slice(0, -1) : t }));
  }
  if (rest) yield [{ line: ++line, text: rest.endsWith('\r') ? rest.slice(0, -1) : rest }];
}

async function* ndjsonRecords(input: Readable): AsyncGenerator<SourceRecord[]> {
  for await (const chunk of lines(input)) yield chunk.filter((l) => l.text.trim()).map(({ line, text }) => ndjson(line, text));
}

function ndjson(line: number, text: string): SourceRecord {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (err) {
    rec = { __error: `not valid JSON: ${(err as Error).message}` };
  }
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) rec = { __error: 'each line must be a JSON object' };
  return { line, rec: rec as Record<string, unknown> };
}

async function* whitespaceRecords(input: Readable, names: string[]): AsyncGenerator<SourceRecord[]> {
  for await (const chunk of lines(input)) yield chunk.filter((l) => l.text.trim()).map(({ line, text }) => whitespace(line, text, names));
}

function whitespace(line: number, text: string, names: string[]): SourceRecord {
  const values = text.trim().split(/\s+/);
  const rec: Record<string, unknown> = {};
  names.forEach((n, i) => (rec[n] = values[i]));
  if (values.length !== names.length) rec.__error = `expected ${names.length} whitespace-separated columns (${names.join(' ')}), found ${values.length}`;
  return { line, rec };
}
