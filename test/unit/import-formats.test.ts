import { cdnowFormat } from '../../src/ingest/import/cdnow.format';
import { genericFormat, parseMapping } from '../../src/ingest/import/generic.format';
import type { Emit, Format } from '../../src/ingest/import/import.types';
import { formatTenThousandths, parseLocalDateTime, parseYmd, toTenThousandths } from '../../src/ingest/import/import.values';
import { onlineRetailFormat } from '../../src/ingest/import/online-retail.format';
import { DomainError } from '../../src/lib/errors';

/** Feeds records (line numbers from 2: line 1 is the header) and returns everything the format emits. */
function run(format: Format, recs: Record<string, unknown>[], firstLine = 2): Emit[] {
  const out: Emit[] = [];
  recs.forEach((rec, i) => format.map({ line: firstLine + i, rec }, out));
  format.flush(out);
  return out;
}
const rows = (es: Emit[]) => es.flatMap((e) => (e.type === 'row' ? [e] : []));

const orLine = (invoice: string, qty: string, price: string, customer = '13085', extra: Record<string, string> = {}) => ({
  Invoice: invoice,
  StockCode: '85048',
  Description: `item ${price}`,
  Quantity: qty,
  InvoiceDate: '2009-12-01 07:45:00',
  Price: price,
  'Customer ID': customer,
  Country: 'United Kingdom',
  ...extra,
});

describe('exact values', () => {
  it('parses and formats decimals in ten-thousandths', () => {
    expect(toTenThousandths('6.95')).toBe(69500);
    expect(toTenThousandths('-0.001')).toBe(-10);
    expect(toTenThousandths('3')).toBe(30000);
    expect(toTenThousandths('1.23456')).toBeNull();
    expect(toTenThousandths('1e3')).toBeNull();
    expect(formatTenThousandths(1391200)).toBe('139.12');
    expect(formatTenThousandths(-10)).toBe('-0.001');
    expect(formatTenThousandths(5)).toBe('0.0005');
    expect(formatTenThousandths(0)).toBe('0.00');
  });

  it('reads both Online Retail date layouts as UTC and rejects impossible dates', () => {
    expect(parseLocalDateTime('2009-12-01 07:45:00')).toBe('2009-12-01T07:45:00Z');
    expect(parseLocalDateTime('12/1/2010 8:26')).toBe('2010-12-01T08:26:00Z');
    expect(parseLocalDateTime('2/30/2010 8:26')).toBeNull();
    expect(parseLocalDateTime('2010-12-01 24:00')).toBeNull();
    expect(parseLocalDateTime('yesterday')).toBeNull();
    expect(parseYmd('19970101')).toBe('1997-01-01T00:00:00Z');
    expect(parseYmd('19971301')).toBeNull();
  });
});

describe('online-retail format', () => {
  it('makes one transaction per invoice with an exact sum, summed quantity and distinct descriptions', () => {
    // 0.1 × 3 + 0.2 × 3 is 0.9000000000000001 in floats.
    const out = run(onlineRetailFormat(), [orLine('489434', '3', '0.1'), orLine('489434', '3', '0.2'), orLine('489434', '1', '0.1')]);
    expect(out).toEqual([
      {
        type: 'row',
        line: 2,
        lines: [2, 3, 4],
        customerRegion: 'United Kingdom',
        data: {
          externalId: '489434',
          customerExternalId: '13085',
          occurredAt: '2009-12-01T07:45:00Z',
          amount: '1.00',
          currency: 'GBP',
          quantity: 7,
          description: 'item 0.1\nitem 0.2',
          kind: 'purchase',
        },
      },
    ]);
  });

  it('turns C invoices into refunds with the money returned as a positive amount', () => {
    const [row] = rows(run(onlineRetailFormat(), [orLine('C489449', '-12', '2.95'), orLine('C489449', '-1', '0.85')]));
    expect(row!.data).toMatchObject({ externalId: 'C489449', kind: 'refund', amount: '36.25', quantity: -13 });
  });

  it('skips and counts lines without a customer id, and normalises "13085.0"', () => {
    const out = run(onlineRetailFormat(), [orLine('1', '1', '1', ''), orLine('2', '1', '1', '17850.0'), orLine('3', '1', '1', '  ')]);
    expect(out.filter((e) => e.type === 'skip')).toEqual([
      { type: 'skip', line: 2, reason: 'no customer id' },
      { type: 'skip', line: 4, reason: 'no customer id' },
    ]);
    expect(rows(out).map((r) => r.data.customerExternalId)).toEqual(['17850']);
  });

  it('reads Online Retail I column names and M/D/YYYY dates', () => {
    const rec = { InvoiceNo: '536365', StockCode: 'x', Description: 'WHITE HANGING HEART', Quantity: '6', InvoiceDate: '12/1/2010 8:26', UnitPrice: '2.55', CustomerID: '17850', Country: 'France' };
    const [row] = rows(run(onlineRetailFormat(), [rec]));
    expect(row).toMatchObject({ customerRegion: 'France', data: { externalId: '536365', amount: '15.30', occurredAt: '2010-12-01T08:26:00Z' } });
  });

  it('names a missing column', () => {
    expect(() => run(onlineRetailFormat(), [{ Invoice: '1' }])).toThrow(/missing column\(s\) StockCode|missing column\(s\) Description/);
  });

  it('rejects a bad line with field and message, and the rest of its invoice with a pointer to it', () => {
    const out = run(onlineRetailFormat(), [orLine('9', '2', '1'), orLine('9', 'two', '1'), orLine('9', '1', '1', '13085', { InvoiceDate: 'soon' }), orLine('10', '1', '1')]);
    expect(out.filter((e) => e.type === 'reject').map((e) => [e.line, e.type === 'reject' && e.issues.map((i) => i.field)])).toEqual([
      [3, ['Quantity']],
      [4, ['InvoiceDate']],
      [2, ['Invoice']],
    ]);
    const invoiceReject = out.find((e) => e.type === 'reject' && e.line === 2);
    expect(invoiceReject).toMatchObject({ lines: [2, 4], issues: [{ message: 'invoice 9 not imported because line 3 is invalid' }] });
    expect(rows(out).map((r) => r.data.externalId)).toEqual(['10']);
  });

  it('groups an invoice whose lines are interleaved with another, and rejects lines of an invoice already written', () => {
    const recs = [orLine('1', '1', '1'), orLine('2', '1', '1'), orLine('1', '1', '1')];
    for (let i = 3; i < 13; i++) recs.push(orLine(String(i), '1', '1'));
    recs.push(orLine('1', '5', '1'));
    const out = run(onlineRetailFormat(), recs);
    const first = rows(out).find((r) => r.data.externalId === '1');
    expect(first).toMatchObject({ lines: [2, 4], data: { quantity: 2, amount: '2.00' } });
    expect(out.filter((e) => e.type === 'reject')).toMatchObject([{ line: 15, issues: [{ field: 'Invoice', message: expect.stringMatching(/already written/) }] }]);
    expect(rows(out)).toHaveLength(12);
  });

  it('keeps an invoice whole however many lines it has (batches are cut after grouping)', () => {
    const recs = Array.from({ length: 7000 }, () => orLine('555', '1', '0.01'));
    const [row, ...rest] = rows(run(onlineRetailFormat(), recs));
    expect(rest).toHaveLength(0);
    expect(row!.data).toMatchObject({ amount: '70.00', quantity: 7000 });
    expect(row!.data.description).toBe('item 0.01');
  });
});

describe('cdnow formats', () => {
  it('maps each line to a purchase with a deterministic id', () => {
    const out = run(cdnowFormat(false), [{ customer_id: '00004', date: '19970101', cds: '2', dollars: '29.33' }], 7);
    expect(rows(out)[0]!.data).toEqual({
      externalId: '00004-19970101-7',
      customerExternalId: '00004',
      occurredAt: '1997-01-01T00:00:00Z',
      amount: '29.33',
      currency: 'USD',
      quantity: 2,
      kind: 'purchase',
    });
  });

  it('uses master_id of the sample layout and rejects bad fields by column name', () => {
    const f = cdnowFormat(true);
    expect(f.positional).toEqual(['master_id', 'sample_id', 'date', 'cds', 'dollars']);
    const out = run(f, [
      { master_id: '00001', sample_id: '0001', date: '19970218', cds: '1', dollars: '12.00' },
      { master_id: '00001', sample_id: '0001', date: '19970231', cds: 'x', dollars: '12.00' },
      { __error: 'expected 5 whitespace-separated columns' },
    ]);
    expect(rows(out)[0]!.data.customerExternalId).toBe('00001');
    expect(out.slice(1).map((e) => e.type === 'reject' && e.issues.map((i) => i.field))).toEqual([['date', 'cds'], ['line']]);
  });
});

describe('generic format', () => {
  it('maps generic column names, converts integer cells and drops empty cells so defaults apply', () => {
    const out = run(genericFormat('transactions'), [
      { transaction_id: 't1', customer_id: 'c1', occurred_at: '2024-01-01T00:00:00Z', amount: '9.99', quantity: '3', currency: '', kind: 'refund' },
    ]);
    expect(rows(out)[0]!.data).toEqual({ externalId: 't1', customerExternalId: 'c1', occurredAt: '2024-01-01T00:00:00Z', amount: '9.99', quantity: 3, kind: 'refund' });
  });

  it('applies a mapping and reports schema fields under the file column names', () => {
    const f = genericFormat('transactions', parseMapping('transactions', { transaction_id: 'Order', customer_id: 'Cust' }));
    expect(rows(run(f, [{ Order: 'o1', Cust: 'k' }]))[0]!.data).toMatchObject({ externalId: 'o1', customerExternalId: 'k' });
    expect(f.column('externalId')).toBe('Order');
    expect(f.column('occurredAt')).toBe('occurred_at');
  });

  it('puts unmapped customer columns into attributes', () => {
    const out = run(genericFormat('customers'), [{ customer_id: 'c1', birth_year: '1980', region: 'UK', tier: 'gold', empty: '' }]);
    expect(rows(out)[0]!.data).toEqual({ externalId: 'c1', birthYear: 1980, region: 'UK', attributes: { tier: 'gold' } });
  });

  it('refuses a mapping with unknown names', () => {
    expect(() => parseMapping('comments', { amount: 'x' })).toThrow(DomainError);
    expect(() => parseMapping('comments', { text: 5 })).toThrow(DomainError);
  });
});
