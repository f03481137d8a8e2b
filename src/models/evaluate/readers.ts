import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type { CustomerEvent } from '../../features/features.definitions';
import { badInput } from '../../lib/errors';
import type { History } from '../clv/clv-baselines';

export type EvalFormat = 'generic' | 'online-retail' | 'cdnow';

/**
 * Minimal readers for the evaluation CLI: transaction files straight into per-customer histories in memory.
 * (The evaluation works in memory rather than through the database: the models only need events grouped per
 * customer, and skipping an embedded database makes a 500k-line file take seconds instead of minutes.)
 */
export function readHistories(file: string, format: EvalFormat): History[] {
  const raw = readFileSync(file);
  const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  const byCustomer = new Map<string, History>();
  const add = (key: string, e: CustomerEvent, region?: string) => {
    let h = byCustomer.get(key);
    if (!h) byCustomer.set(key, (h = { key, events: [], attrs: { region: region ?? null } }));
    h.events.push(e);
  };
  if (format === 'cdnow') readCdnow(text, add);
  else if (format === 'online-retail') readOnlineRetail(text, add);
  else if (format === 'generic') readGeneric(text, add);
  else throw badInput(`unknown format "${String(format)}"`, [{ field: 'format', message: 'generic | online-retail | cdnow' }]);
  const out = [...byCustomer.values()];
  for (const h of out) h.events.sort((a, b) => a.at - b.at);
  return out;
}

type Add = (key: string, e: CustomerEvent, region?: string) => void;

/** CDNOW: "customer id, (unused id), YYYYMMDD, quantity, amount" separated by blanks. */
function readCdnow(text: string, add: Add): void {
  let line = 0;
  for (const l of text.split('\n')) {
    line++;
    const f = l.trim().split(/\s+/);
    if (f.length < 5) continue;
    const d = f[2]!;
    const at = Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8)));
    const amount = Number(f[4]);
    if (!Number.isFinite(at) || !Number.isFinite(amount)) throw badInput('unreadable CDNOW line', [{ row: line, field: 'line', message: l }]);
    add(String(Number(f[0])), { at, amount, kind: 'purchase', quantity: Number(f[3]) || 1 });
  }
}

/** Online Retail II: one line per invoice line; lines are grouped per invoice, 'C' invoices are refunds. */
function readOnlineRetail(text: string, add: Add): void {
  const rows = parse(text, { columns: true, skip_empty_lines: true, relax_quotes: true }) as Record<string, string>[];
  const invoices = new Map<string, { customer: string; at: number; total: number; qty: number; products: Set<string>; country: string }>();
  for (const r of rows) {
    const customer = (r['Customer ID'] ?? '').trim();
    if (!customer) continue;
    const inv = r.Invoice!;
    let agg = invoices.get(inv);
    if (!agg) {
      const at = Date.parse(`${r.InvoiceDate!.replace(' ', 'T')}Z`);
      invoices.set(inv, (agg = { customer: String(Number(customer)), at, total: 0, qty: 0, products: new Set(), country: r.Country ?? '' }));
    }
    const q = Number(r.Quantity);
    agg.total += q * Number(r.Price);
    agg.qty += Math.abs(q);
    agg.products.add(r.StockCode!);
  }
  for (const [inv, a] of invoices) {
    if (!Number.isFinite(a.at)) continue;
    const refund = inv.startsWith('C');
    if (!refund && !(a.total > 0)) continue;
    add(a.customer, { at: a.at, amount: Math.abs(a.total), kind: refund ? 'refund' : 'purchase', quantity: a.qty, productIds: [...a.products] }, a.country);
  }
}

/** Generic CSV: customerId, occurredAt, amount, and optionally kind, productId, category, quantity, region. */
function readGeneric(text: string, add: Add): void {
  const rows = parse(text, { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  const pick = (r: Record<string, string>, ...names: string[]) => {
    for (const n of names) if (r[n] !== undefined && r[n] !== '') return r[n];
    return undefined;
  };
  rows.forEach((r, i) => {
    const customer = pick(r, 'customerId', 'customer_id', 'customerExternalId');
    const at = Date.parse(pick(r, 'occurredAt', 'occurred_at', 'date') ?? '');
    const amount = Number(pick(r, 'amount'));
    if (!customer || !Number.isFinite(at) || !Number.isFinite(amount)) {
      throw badInput('generic CSV needs customerId, occurredAt and amount on every row', [{ row: i + 1, field: 'row', message: JSON.stringify(r) }]);
    }
    const kind = pick(r, 'kind') === 'refund' || amount < 0 ? 'refund' : 'purchase';
    add(
      customer,
      { at, amount, kind, productId: pick(r, 'productId', 'product_id') ?? null, category: pick(r, 'category') ?? null, quantity: Number(pick(r, 'quantity') ?? 1) || 1 },
      pick(r, 'region'),
    );
  });
}
