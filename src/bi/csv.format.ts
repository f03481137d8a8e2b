/**
 * RFC 4180 CSV: comma-separated, CRLF line ends, a field quoted when it holds a quote, comma, CR or LF, quotes
 * doubled inside. NULL is an empty unquoted field and an empty string is `""` (PostgreSQL COPY's convention), so
 * the two survive a round trip. Numbers are JavaScript's shortest round-trip form; timestamps ISO 8601 UTC.
 */
const NEEDS_QUOTES = /[",\r\n]/;

export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') {
    if (value === '') return '""';
    return NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  }
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  // Decimal objects and the like: their own exact text.
  return csvField(String(value));
}

export function csvRecord(values: readonly unknown[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i ? ',' : '') + csvField(values[i]);
  return `${line}\r\n`;
}
