import { copyText } from '../../src/events/events-copy.writer';
import { textHash } from '../../src/events/events-ingest.service';
import type { EventRow } from '../../src/events/events.schemas';

/** Decodes one field of COPY's text format the way PostgreSQL does (the escapes copyText writes). */
const decode = (f: string): string | null =>
  f === '\\N' ? null : f.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);

describe('events COPY text format', () => {
  const at = new Date('2024-03-01T10:00:00.123Z');

  it('writes one tab-separated line per row, \\N for absent values, {} for absent properties', () => {
    const rows: EventRow[] = [
      { externalId: 'e1', customerExternalId: 'c1', occurredAt: at, type: 'page_view', text: null },
      { externalId: 'e2', customerExternalId: 'c1', occurredAt: at, type: 'search', text: 'lamp', productId: 'p', category: 'home', properties: { a: 1 } },
    ];
    expect(copyText(rows)).toBe(
      `e1\tc1\t2024-03-01T10:00:00.123Z\tpage_view\t\\N\t\\N\t\\N\t\\N\t{}\n` +
        `e2\tc1\t2024-03-01T10:00:00.123Z\tsearch\tp\thome\tlamp\t${textHash('lamp')}\t{"a":1}\n`,
    );
  });

  it('escapes backslash, tab, newline and carriage return so every value reads back unchanged', () => {
    const nasty = 'a\tb\nc\rd\\e \\N \\. "q" ü';
    const row: EventRow = { externalId: `x\t1`, customerExternalId: 'c\\2', occurredAt: at, type: 'search', text: nasty, category: '\\N', properties: { k: nasty } };
    const text = copyText([row]);
    expect(text.split('\n')).toHaveLength(2); // one line and the final newline: no raw newline inside
    const fields = text.slice(0, -1).split('\t').map(decode);
    expect(fields).toEqual(['x\t1', 'c\\2', at.toISOString(), 'search', null, '\\N', nasty, textHash(nasty), JSON.stringify({ k: nasty })]);
  });
});
