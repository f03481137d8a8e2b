/**
 * Input checks shared by the GraphQL guards, the scalars and the ingest schemas: what JSON and JavaScript accept
 * but PostgreSQL cannot store or would silently reinterpret.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why text cannot be stored in text/jsonb columns (NUL, unpaired UTF-16 surrogate), or null when it can. */
export function badTextReason(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (U+0000)';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
  return null;
}

/** First string (or object key) in a JSON value that PostgreSQL cannot store, with its path. */
export function findBadText(v: unknown, path = 'variables'): { path: string; reason: string } | null {
  if (typeof v === 'string') {
    const reason = badTextReason(v);
    return reason ? { path, reason } : null;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = findBadText(v[i], `${path}.${i}`);
      if (bad) return bad;
    }
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const reason = badTextReason(k);
      if (reason) return { path: `${path}.${k}`, reason: `key ${reason}` };
      const bad = findBadText(x, `${path}.${k}`);
      if (bad) return bad;
    }
  }
  return null;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-](\d{2}):?(\d{2}))$/;

/**
 * An ISO-8601 timestamp with a zone whose fields are all in range. `new Date()` rolls 2024-02-30 over to
 * March 1st and 24:00 to the next day, and accepts year 0000, which PostgreSQL rejects: all refused here.
 */
export function isValidIsoTimestamp(s: string): boolean {
  const m = ISO.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return false;
  if (d > new Date(Date.UTC(2000, mo, 0)).getUTCDate() || (mo === 2 && d === 29 && !isLeap(y))) return false;
  if (m[7] !== 'Z' && (Number(m[8]) > 23 || Number(m[9]) > 59)) return false;
  return Number.isFinite(new Date(s).getTime());
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
