import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { badInput } from './errors';

/**
 * The records of a small side file for `evaluate` (events, comments): NDJSON (.ndjson/.jsonl) or CSV with a header,
 * optionally gzipped. Whole-file reads: these files feed in-memory evaluation, not the streaming importer. `what`
 * names the option in errors ("--comments"); a bad NDJSON line is named by its line number.
 */
export function readRecordsFile(file: string, what: string): Record<string, unknown>[] {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch {
    throw badInput(`${what}: file not found: ${file}`, [{ field: what.replace(/^-+/, ''), message: 'no such file' }]);
  }
  const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (!(name.endsWith('.ndjson') || name.endsWith('.jsonl'))) return parse(text, { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  return text.split('\n').flatMap((l, i) => {
    if (!l.trim()) return [];
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      throw badInput(`${what}: a line is not JSON`, [{ row: i + 1, field: 'line', message: l.slice(0, 200) }]);
    }
  });
}
