import { badInput } from '../lib/errors';

/**
 * Opaque keyset cursors: base64url JSON of the last row's sort value and id, tagged with the ordering it belongs
 * to so a cursor from another ordering is refused instead of silently skipping rows.
 */
export interface Cursor {
  /** ordering tag */
  o: string;
  /** sort value as text (numeric or ISO timestamp) */
  v: string;
  /** row id as text (bigint-safe) */
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

export function decodeCursor(raw: string | null | undefined, ordering: string): Cursor | null {
  if (raw == null || raw === '') return null;
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    c = null;
  }
  const ok =
    !!c && typeof c === 'object' && typeof (c as Cursor).v === 'string' && typeof (c as Cursor).id === 'string' &&
    /^\d{1,19}$/.test((c as Cursor).id) && (c as Cursor).o === ordering;
  if (!ok) throw badInput('invalid cursor for this query', [{ field: 'after', message: 'is not a cursor returned by this query and ordering' }]);
  return c as Cursor;
}

export const MAX_PAGE = 500;

/** Page size capped at 500 (a larger request gets 500 rows and hasNextPage); negative is a client error. */
export function pageSize(first: number | null | undefined, dflt = 50): number {
  const n = first ?? dflt;
  if (!Number.isInteger(n) || n < 0) throw badInput('first must be a non-negative integer', [{ field: 'first', message: 'must be >= 0' }]);
  return Math.min(n, MAX_PAGE);
}

export interface Page<T> {
  edges: { cursor: string; node: T }[];
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Builds a page from up to first+1 rows fetched in order; the extra row only tells whether there is more. */
export function toPage<T>(rows: T[], first: number, cursorOf: (row: T) => string): Page<T> {
  const nodes = rows.slice(0, first);
  const edges = nodes.map((node) => ({ cursor: cursorOf(node), node }));
  return { edges, nodes, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}
