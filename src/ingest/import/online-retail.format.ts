import { badInput } from '../../lib/errors';
import { MAX_TEXT } from '../ingest.schemas';
import type { SourceRecord } from './import.source';
import type { Emit, Format, Issue } from './import.types';
import { formatTenThousandths, isInt, parseLocalDateTime, toTenThousandths } from './import.values';

/** Online Retail I and II name the same columns differently. */
const COLUMNS = {
  invoice: ['Invoice', 'InvoiceNo'],
  description: ['Description'],
  quantity: ['Quantity'],
  date: ['InvoiceDate'],
  price: ['Price', 'UnitPrice'],
  customer: ['Customer ID', 'CustomerID'],
  country: ['Country'],
} as const;
type Col = keyof typeof COLUMNS;

/** Invoices kept open at once: tolerates a little interleaving while staying constant-memory. */
const OPEN_WINDOW = 8;
/** Recently closed invoices remembered to catch lines that arrive after their invoice was written. */
const CLOSED_MEMORY = 10_000;
const NO_CUSTOMER = 'no customer id';

interface Invoice {
  id: string;
  customer: string;
  country: string | null;
  occurredAt: string;
  amount: number;
  quantity: number;
  descriptions: Set<string>;
  lines: number[];
  badLine: number | null;
}

/**
 * UCI Online Retail (I and II): one transaction per invoice (externalId = invoice number), amount = Σ qty × price
 * in exact ten-thousandths, quantity = Σ qty, the distinct product descriptions as its text, currency GBP.
 * `C…` invoices are cancellations and become refunds (positive amount returned, negative quantity, like every
 * other ingest path). Lines without a customer id are skipped and counted. InvoiceDate has no zone (UK local
 * time) and is read as UTC.
 */
export function onlineRetailFormat(): Format {
  let cols: Record<Col, string> | undefined;
  const open = new Map<string, Invoice>();
  const closed = new Set<string>();
  let current: string | undefined;
  // An invoice's lines share one timestamp: parse it once per run of equal strings.
  let lastDate = '';
  let lastWhen: string | null = null;

  const resolve = (rec: Record<string, unknown>) => {
    const found = {} as Record<Col, string>;
    const missing: string[] = [];
    for (const [k, names] of Object.entries(COLUMNS) as [Col, readonly string[]][]) {
      const n = names.find((c) => c in rec);
      if (n) found[k] = n;
      else missing.push(names.join(' or '));
    }
    if (missing.length) throw badInput(`not an Online Retail file: missing column(s) ${missing.join(', ')}`);
    return found;
  };

  const close = (inv: Invoice, out: Emit[]) => {
    open.delete(inv.id);
    closed.add(inv.id);
    if (closed.size > CLOSED_MEMORY) closed.delete(closed.values().next().value!);
    if (inv.badLine !== null) {
      const lines = inv.lines.filter((l) => l !== inv.badLine);
      if (lines.length) {
        const message = `invoice ${inv.id} not imported because line ${inv.badLine} is invalid`;
        out.push({ type: 'reject', line: lines[0]!, lines, issues: [{ field: cols!.invoice, message }] });
      }
      return;
    }
    const refund = inv.id.startsWith('C');
    let description = [...inv.descriptions].join('\n');
    if (description.length > MAX_TEXT) description = description.slice(0, MAX_TEXT);
    out.push({
      type: 'row',
      line: inv.lines[0]!,
      lines: inv.lines,
      customerRegion: inv.country,
      data: {
        externalId: inv.id,
        customerExternalId: inv.customer,
        occurredAt: inv.occurredAt,
        amount: formatTenThousandths(refund ? -inv.amount : inv.amount),
        currency: 'GBP',
        quantity: inv.quantity,
        description: description || null,
        kind: refund ? 'refund' : 'purchase',
      },
    });
  };

  return {
    name: 'online-retail',
    entity: 'transactions',
    column(field) {
      const c = cols ?? ({} as Partial<Record<Col, string>>);
      const byField: Record<string, string | undefined> = {
        externalId: c.invoice,
        customerExternalId: c.customer,
        occurredAt: c.date,
        amount: `${c.quantity} × ${c.price}`,
        quantity: c.quantity,
        description: c.description,
      };
      return byField[field] ?? field;
    },
    map({ line, rec }: SourceRecord, out: Emit[]) {
      cols ??= resolve(rec);
      const str = (k: Col) => String(rec[cols![k]] ?? '').trim();
      const id = str('invoice');
      // Customer ids come as "13085" or, from spreadsheet exports, "13085.0".
      const customer = str('customer').replace(/\.0+$/, '');
      if (!id) {
        out.push({ type: 'reject', line, issues: [{ field: cols.invoice, message: 'must not be empty' }] });
        return;
      }
      if (!customer) {
        out.push({ type: 'skip', line, reason: NO_CUSTOMER });
        return;
      }
      if (id !== current) {
        current = id;
        if (!open.has(id) && closed.has(id)) {
          const message = `invoice ${id} was already written: its lines must be consecutive (sort the file by invoice)`;
          out.push({ type: 'reject', line, issues: [{ field: cols.invoice, message }] });
          current = undefined;
          return;
        }
        if (!open.has(id) && open.size >= OPEN_WINDOW) close(open.values().next().value!, out);
      }
      const issues: Issue[] = [];
      const qty = str('quantity');
      const price = toTenThousandths(str('price'));
      const dateText = str('date');
      if (dateText !== lastDate) {
        lastDate = dateText;
        lastWhen = parseLocalDateTime(dateText);
      }
      const when = lastWhen;
      if (!isInt(qty)) issues.push({ field: cols.quantity, message: 'must be an integer' });
      if (price === null) issues.push({ field: cols.price, message: 'must be a decimal number with at most 4 decimals' });
      if (!when) issues.push({ field: cols.date, message: 'must be a date like 2009-12-01 07:45:00 or 12/1/2010 8:26' });
      let inv = open.get(id);
      if (!inv) {
        const country = str('country');
        inv = { id, customer, country: country || null, occurredAt: when ?? '', amount: 0, quantity: 0, descriptions: new Set(), lines: [], badLine: null };
        open.set(id, inv);
      }
      inv.lines.push(line);
      if (issues.length) {
        out.push({ type: 'reject', line, issues, record: rec });
        inv.badLine ??= line;
        return;
      }
      if (!inv.occurredAt) inv.occurredAt = when!;
      const q = Number(qty);
      inv.quantity += q;
      inv.amount += q * price!;
      // Beyond 2^53 ten-thousandths the sum would stop being exact; no real invoice gets near it.
      if (!Number.isSafeInteger(inv.amount)) {
        out.push({ type: 'reject', line, issues: [{ field: cols.price, message: 'invoice total out of range' }] });
        inv.badLine ??= line;
      }
      const d = str('description');
      if (d) inv.descriptions.add(d);
    },
    flush(out: Emit[]) {
      for (const inv of [...open.values()]) close(inv, out);
    },
  };
}
