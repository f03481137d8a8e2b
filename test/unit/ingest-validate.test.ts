import { DomainError } from '../../src/lib/errors';
import { commentRow, customerRow, MAX_BATCH, transactionRow } from '../../src/ingest/ingest.schemas';
import { validateBatch } from '../../src/ingest/validate';

const tx = (over: Record<string, unknown> = {}) => ({
  externalId: 't1',
  customerExternalId: 'c1',
  occurredAt: '2024-03-01T10:00:00Z',
  amount: '12.50',
  ...over,
});

function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return (e as DomainError).details!.issues!;
  }
  throw new Error('expected a DomainError');
}

describe('batch validation', () => {
  it('accepts good rows and applies defaults', () => {
    const [row] = validateBatch([tx()], transactionRow, 'tx');
    expect(row).toMatchObject({ amount: '12.50', currency: 'USD', quantity: 1, kind: 'purchase' });
    expect(row!.occurredAt).toEqual(new Date('2024-03-01T10:00:00Z'));
  });

  it('reports every bad row by index and field', () => {
    const issues = issuesOf(() =>
      validateBatch(
        [
          tx(),
          tx({ externalId: 't2', amount: 'NaN' }),
          tx({ externalId: 't3', occurredAt: '2024-03-01 10:00' }),
          tx({ externalId: 't4', kind: 'gift' }),
          tx({ externalId: 't5' }),
        ],
        transactionRow,
        'tx',
      ),
    );
    expect(issues.map((i) => [i.row, i.field])).toEqual([
      [1, 'amount'],
      [2, 'occurredAt'],
      [3, 'kind'],
    ]);
  });

  it.each([
    ['Infinity', Infinity],
    ['negative purchase', '-3.00'],
    ['too many decimals', '1.23456'],
    ['exponent', '1e5'],
  ])('rejects amount: %s', (_label, amount) => {
    expect(issuesOf(() => validateBatch([tx({ amount })], transactionRow, 'tx'))[0]!.field).toBe('amount');
  });

  it('allows a negative amount on a refund and keeps decimals exact', () => {
    const [r] = validateBatch([tx({ amount: '-0.1000', kind: 'refund' })], transactionRow, 'tx');
    expect(r!.amount).toBe('-0.1000');
  });

  it('rejects timestamps without a zone or out of range', () => {
    for (const occurredAt of ['2024-03-01T10:00:00', '1969-12-31T23:59:59Z', '2999-01-01T00:00:00Z', 'yesterday']) {
      expect(issuesOf(() => validateBatch([tx({ occurredAt })], transactionRow, 'tx'))[0]!.field).toBe('occurredAt');
    }
  });

  it('rejects duplicate externalIds inside one batch', () => {
    const issues = issuesOf(() => validateBatch([{ externalId: 'a' }, { externalId: 'a' }], customerRow, 'c'));
    expect(issues).toEqual([{ row: 1, field: 'externalId', message: 'duplicates row 0 in this batch' }]);
  });

  it('limits batch size and text length', () => {
    const many = Array.from({ length: MAX_BATCH + 1 }, (_, i) => ({ externalId: `c${i}` }));
    expect(() => validateBatch(many, customerRow, 'c')).toThrow(/at most 5000 rows/);
    const long = { externalId: 'm', customerExternalId: 'c', createdAt: '2024-01-01T00:00:00Z', text: 'x'.repeat(20_001) };
    expect(issuesOf(() => validateBatch([long], commentRow, 'm'))[0]!.field).toBe('text');
  });
});
