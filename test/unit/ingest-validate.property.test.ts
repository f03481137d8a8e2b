import fc from 'fast-check';
import { commentRow, customerRow, MAX_BATCH, money, timestamp, transactionRow } from '../../src/ingest/ingest.schemas';
import { validateBatch } from '../../src/ingest/validate';
import { DomainError } from '../../src/lib/errors';

/**
 * Property tests for the ingest validators: they never throw anything but a BAD_USER_INPUT DomainError,
 * accept and reject in agreement with an independent reading of the documented rules, and never round money.
 */

const RUNS = { numRuns: 300 };
const wellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Oracle for money written from the documentation: up to 14 integer digits, up to 4 decimals, optional minus. */
function moneyOk(s: string): boolean {
  const t = s.trim();
  const body = t.startsWith('-') ? t.slice(1) : t;
  const [int, frac, ...rest] = body.split('.');
  const digits = (x: string) => x.length > 0 && [...x].every((ch) => ch >= '0' && ch <= '9');
  return rest.length === 0 && digits(int ?? '') && int!.length <= 14 && (frac === undefined || (digits(frac) && frac.length <= 4));
}

/** Exact value of a decimal string in ten-thousandths. */
function units(s: string): bigint {
  const neg = s.startsWith('-');
  const [int, frac = ''] = (neg ? s.slice(1) : s).split('.');
  const v = BigInt(int!) * 10_000n + BigInt((frac + '0000').slice(0, 4));
  return neg ? -v : v;
}
const format = (u: bigint) => {
  const neg = u < 0n;
  const a = neg ? -u : u;
  return `${neg ? '-' : ''}${a / 10_000n}.${String(a % 10_000n).padStart(4, '0')}`;
};

describe('ingest validators (property-based)', () => {
  it('never throw on arbitrary input: safeParse always answers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.dictionary(fc.constantFrom('externalId', 'amount', 'occurredAt', 'text', 'birthYear', 'attributes', 'kind', 'quantity'), fc.anything())), (v) => {
        for (const schema of [customerRow, transactionRow, commentRow]) expect(typeof schema.safeParse(v).success).toBe('boolean');
      }),
      RUNS,
    );
  });

  it('validateBatch either returns every row or throws BAD_USER_INPUT with issues that point into the batch', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.anything(), fc.record({ externalId: fc.string(), birthYear: fc.option(fc.integer()) })), { maxLength: 30 }), (rows) => {
        try {
          expect(validateBatch(rows, customerRow, 'test')).toHaveLength(rows.length);
        } catch (e) {
          expect(e).toBeInstanceOf(DomainError);
          const err = e as DomainError;
          expect(err.code).toBe('BAD_USER_INPUT');
          expect(err.details?.issues?.length).toBeGreaterThan(0);
          for (const i of err.details!.issues!) expect(i.row! >= 0 && i.row! < rows.length && typeof i.field === 'string').toBe(true);
        }
      }),
      RUNS,
    );
    expect(() => validateBatch(Array.from({ length: MAX_BATCH + 1 }, () => ({})), customerRow, 'test')).toThrow(/at most 5000 rows/);
  });

  it('money accepts exactly the documented decimals and keeps them digit for digit', () => {
    const decimalish = fc.stringMatching(/^ ?-?[0-9]{0,16}(\.[0-9]{0,6})? ?$/);
    fc.assert(
      fc.property(fc.oneof(decimalish, fc.string()), (s) => {
        const r = money.safeParse(s);
        expect(r.success).toBe(moneyOk(s));
        if (r.success) expect(r.data).toBe(s.trim());
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer()), (n) => {
        const r = money.safeParse(n);
        expect(r.success).toBe(Number.isFinite(n) && moneyOk(String(n)));
      }),
      RUNS,
    );
  });

  it('sums of accepted amounts are exact (no float detour)', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: -(10n ** 17n) + 1n, max: 10n ** 17n - 1n }), { minLength: 1, maxLength: 200 }), (us) => {
        const parsed = us.map((u) => money.parse(format(u)));
        expect(parsed.map(units).reduce((a, b) => a + b, 0n)).toBe(us.reduce((a, b) => a + b, 0n));
      }),
      RUNS,
    );
    // The classic float trap: ten times 0.1 is exactly 1 here.
    expect(Array.from({ length: 10 }, () => units(money.parse(0.1))).reduce((a, b) => a + b, 0n)).toBe(10_000n);
  });

  it('timestamps: a real calendar instant with a zone is accepted as that instant, anything else refused', () => {
    const max = Date.now() + 300 * 86_400_000;
    fc.assert(
      fc.property(fc.integer({ min: 0, max }), fc.integer({ min: -14 * 60, max: 14 * 60 }), (t, offMin) => {
        // The same instant written in another zone.
        const local = new Date(t + offMin * 60_000).toISOString().slice(0, 19);
        const sign = offMin < 0 ? '-' : '+';
        const a = Math.abs(offMin);
        const s = `${local}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
        const r = timestamp.safeParse(s);
        expect(r.success).toBe(true);
        if (r.success) expect(r.data.getTime()).toBe(Math.floor(t / 1000) * 1000);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.integer({ min: 1970, max: 2025 }), fc.integer({ min: 0, max: 14 }), fc.integer({ min: 0, max: 33 }), fc.integer({ min: 0, max: 25 }), (y, m, d, h) => {
        const s = `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00Z`;
        const real = m >= 1 && m <= 12 && d >= 1 && h <= 23 && new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d;
        expect(timestamp.safeParse(s).success).toBe(real);
      }),
      RUNS,
    );
  });

  it('text: accepted when it is 1 to 20,000 characters of valid Unicode without NUL, whatever else it holds', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom('', '\u0000', 'a\ud800', '\udc00b', '👍', '\u202e')), (text) => {
        const r = commentRow.safeParse({ externalId: 'm', customerExternalId: 'c', createdAt: '2024-01-01T00:00:00Z', text });
        expect(r.success).toBe(text.length >= 1 && !text.includes('\u0000') && wellFormed(text));
        if (r.success) expect(r.data.text).toBe(text);
      }),
      RUNS,
    );
  });

  it('a valid transaction stays valid, and breaking one field is reported on that field', () => {
    const valid = fc.record({
      externalId: fc.string({ minLength: 1, maxLength: 50 }).filter((s) => s.trim().length > 0 && wellFormed(s) && !s.includes('\u0000')),
      customerExternalId: fc.constantFrom('c1', 'c2'),
      occurredAt: fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date(), noInvalidDate: true }).map((d) => d.toISOString()),
      amount: fc.bigInt({ min: 0n, max: 10n ** 10n }).map(format),
      quantity: fc.integer({ min: -1000, max: 1000 }),
      kind: fc.constantFrom('purchase', 'refund'),
    });
    const breakers: [string, fc.Arbitrary<unknown>][] = [
      ['amount', fc.constantFrom('NaN', 'Infinity', '1e5', '1.23456', '', '0x10', Number.NaN, Number.POSITIVE_INFINITY)],
      ['occurredAt', fc.constantFrom('2024-02-30T00:00:00Z', '0000-01-01T00:00:00Z', '2024-01-01', 'yesterday', '2024-01-01T00:00:00+25:00')],
      ['quantity', fc.constantFrom(1.5, 10_000_000, '3')],
      ['kind', fc.constantFrom('gift', '', 'PURCHASE')],
      ['externalId', fc.constantFrom('', '   ', 'x'.repeat(201), 'a\u0000', 'b\ud800')],
    ];
    fc.assert(
      fc.property(valid, fc.constantFrom(...breakers), fc.nat(), (row, [field, bad], seed) => {
        expect(transactionRow.safeParse(row).success).toBe(true);
        const value = fc.sample(bad, { numRuns: 1, seed })[0];
        const r = transactionRow.safeParse({ ...row, [field]: value });
        expect(r.success).toBe(false);
        if (!r.success) expect(r.error.issues.map((i) => i.path[0])).toContain(field);
      }),
      RUNS,
    );
  });
});
