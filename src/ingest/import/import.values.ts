/** Exact decimal and date parsing for the built-in file formats (no floats anywhere near money). */

const SCALE = 4;
const POW = 10 ** SCALE;

/** "6.95" → 69500 (ten-thousandths); null when not a decimal with at most 4 decimals or out of safe range. */
export function toTenThousandths(s: string): number | null {
  const m = /^(-)?(\d{1,12})(?:\.(\d{1,4}))?$/.exec(s.trim());
  if (!m) return null;
  const v = Number(m[2]) * POW + Number((m[3] ?? '').padEnd(SCALE, '0'));
  return m[1] ? -v : v;
}

/** 1391200 → "139.12": at least two decimals, trailing zeros beyond them dropped. */
export function formatTenThousandths(v: number): string {
  const neg = v < 0;
  const a = Math.abs(v);
  const int = Math.floor(a / POW);
  let frac = String(a % POW).padStart(SCALE, '0');
  while (frac.length > 2 && frac.endsWith('0')) frac = frac.slice(0, -1);
  return `${neg ? '-' : ''}${int}.${frac}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

function iso(y: number, mo: number, d: number, h: number, mi: number, s: number): string | null {
  const t = Date.UTC(y, mo - 1, d, h, mi, s);
  const dt = new Date(t);
  // Rejects 2/30, 25:00 and the like, which Date.UTC would silently roll over.
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return null;
  return `${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}Z`;
}

/**
 * Invoice timestamps without a zone, read as UTC: `2009-12-01 07:45:00` (Online Retail II) and
 * `12/1/2010 8:26` (M/D/YYYY H:mm, Online Retail I). Returns an ISO-8601 string with Z, or null.
 */
export function parseLocalDateTime(s: string): string | null {
  const t = s.trim();
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (m) return iso(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (m) return iso(+m[3]!, +m[1]!, +m[2]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
  return null;
}

/** CDNOW's YYYYMMDD → midnight UTC ISO string, or null. */
export function parseYmd(s: string): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s.trim());
  return m ? iso(+m[1]!, +m[2]!, +m[3]!, 0, 0, 0) : null;
}

export const isInt = (s: string) => /^-?\d{1,9}$/.test(s.trim());
