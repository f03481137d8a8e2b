import type { z } from 'zod';
import { type FieldIssue, badInput } from '../lib/errors';
import { MAX_BATCH } from './ingest.schemas';

/**
 * Validates a whole batch before anything is written and reports EVERY bad row and field, so a pipeline can
 * fix its data in one round trip. Also rejects duplicate externalIds inside one batch (ambiguous upsert).
 */
export function validateBatch<S extends z.ZodType>(rows: unknown[], schema: S, what: string): z.output<S>[] {
  if (!Array.isArray(rows)) throw badInput(`${what}: expected a list of rows`);
  if (rows.length > MAX_BATCH) {
    throw badInput(`${what}: a batch holds at most ${MAX_BATCH} rows (got ${rows.length}); split it or use the CLI import`, [
      { field: 'rows', message: `at most ${MAX_BATCH} rows` },
    ]);
  }
  const issues: FieldIssue[] = [];
  const out: z.output<S>[] = [];
  const seen = new Map<string, number>();
  rows.forEach((row, i) => {
    const r = schema.safeParse(row);
    if (!r.success) {
      for (const issue of r.error.issues) issues.push({ row: i, field: issue.path.join('.') || 'row', message: issue.message });
      return;
    }
    const id = (r.data as { externalId: string }).externalId;
    const first = seen.get(id);
    if (first !== undefined) issues.push({ row: i, field: 'externalId', message: `duplicates row ${first} in this batch` });
    else seen.set(id, i);
    out.push(r.data);
  });
  if (issues.length) {
    const rowsBad = new Set(issues.map((x) => x.row)).size;
    throw badInput(`${what}: ${rowsBad} invalid row(s); nothing was written`, issues);
  }
  return out;
}
