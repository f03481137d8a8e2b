import type { SourceRecord } from './import.source';
import type { Emit, Format, Issue } from './import.types';
import { isInt, parseYmd, toTenThousandths } from './import.values';

/**
 * CDNOW purchase logs (Fader & Hardie), whitespace separated, no header: `customer_id date cds dollars`, or
 * the 1/10 sample's `master_id sample_id date cds dollars` (customer = master_id). Each line is a purchase;
 * its externalId `customer-date-line` is deterministic, so importing the same file again changes nothing.
 */
export function cdnowFormat(sample: boolean): Format {
  const positional = sample ? ['master_id', 'sample_id', 'date', 'cds', 'dollars'] : ['customer_id', 'date', 'cds', 'dollars'];
  const customerCol = positional[0]!;
  const byField: Record<string, string> = { customerExternalId: customerCol, occurredAt: 'date', quantity: 'cds', amount: 'dollars' };
  return {
    name: sample ? 'cdnow-sample' : 'cdnow',
    entity: 'transactions',
    sourceKind: 'whitespace',
    positional,
    column: (field) => byField[field] ?? field,
    map({ line, rec }: SourceRecord, out: Emit[]) {
      if (typeof rec.__error === 'string') {
        out.push({ type: 'reject', line, issues: [{ field: 'line', message: rec.__error }], record: rec });
        return;
      }
      const customer = String(rec[customerCol]);
      const date = String(rec.date);
      const cds = String(rec.cds);
      const dollars = String(rec.dollars);
      const occurredAt = parseYmd(date);
      const issues: Issue[] = [];
      if (!occurredAt) issues.push({ field: 'date', message: 'must be a date as YYYYMMDD' });
      if (!isInt(cds)) issues.push({ field: 'cds', message: 'must be an integer' });
      if (toTenThousandths(dollars) === null) issues.push({ field: 'dollars', message: 'must be a decimal number with at most 4 decimals' });
      if (issues.length) {
        out.push({ type: 'reject', line, issues, record: rec });
        return;
      }
      out.push({
        type: 'row',
        line,
        data: {
          externalId: `${customer}-${date}-${line}`,
          customerExternalId: customer,
          occurredAt,
          amount: dollars,
          currency: 'USD',
          quantity: Number(cds),
          kind: 'purchase',
        },
      });
    },
    flush() {},
  };
}
