import { CustomerIdCache } from '../../src/events/customer-id.cache';
import { copyText } from '../../src/events/events-copy.writer';
import { textHash } from '../../src/events/events-ingest.service';
import type { EventRow } from '../../src/events/events.schemas';

/** Decodes one field of COPY's text format the way PostgreSQL does (the escapes copyText writes). */
const decode = (f: string): string | null =>
  f === '\\N' ? null : f.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);

describe('events COPY text format', () => {
  const at = new Date('2024-03-01T10:00:00.123Z');

  it('writes one tab-separated line per row, \\N for absent values and unknown customer ids, {} for absent properties', () => {
    const rows: EventRow[] = [
      { externalId: 'e1', customerExternalId: 'c1', occurredAt: at, type: 'page_view', text: null },
      { externalId: 'e2', customerExternalId: 'c2', occurredAt: at, type: 'search', text: 'lamp', productId: 'p', category: 'home', properties: { a: 1 } },
    ];
    const ids = new CustomerIdCache();
    ids.set('c2', 42);
    expect(copyText(rows, ids)).toBe(
      `e1\tc1\t\\N\t2024-03-01T10:00:00.123Z\tpage_view\t\\N\t\\N\t\\N\t\\N\t{}\n` +
        `e2\tc2\t42\t2024-03-01T10:00:00.123Z\tsearch\tp\thome\tlamp\t${textHash('lamp')}\t{"a":1}\n`,
    );
  });

  it('the customer id cache starts over past its bound instead of growing', () => {
    const ids = new CustomerIdCache(3);
    for (const [i, c] of ['a', 'b', 'c'].entries()) ids.set(c, i);
    ids.set('a', 7);
    expect([ids.size, ids.get('a')]).toEqual([3, 7]);
    ids.set('d', 3);
    expect([ids.size, ids.get('a'), ids.get('d')]).toEqual([1, undefined, 3]);
  });

  it('escapes backslash, tab, newline and carriage return so every value reads back unchanged', () => {
    const nasty = 'a\tb\nc\rd\\e \\N \\. "q" ü';
    const row: EventRow = { externalId: `x\t1`, customerExternalId: 'c\\2', occurredAt: at, type: 'search', text: nasty, category: '\\N', properties: { k: nasty } };
    const text = copyText([row]);
    expect(text.split('\n')).toHaveLength(2); // one line and the final newline: no raw newline inside
    const fields = text.slice(0, -1).split('\t').map(decode);
    expect(fields).toEqual(['x\t1', 'c\\2', null, at.toISOString(), 'search', null, '\\N', nasty, textHash(nasty), JSON.stringify({ k: nasty })]);
  });
});
