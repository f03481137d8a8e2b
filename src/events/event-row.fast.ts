import { badTextReason, findBadText, isValidIsoTimestamp } from '../lib/text';
import { EVENT_TYPES, type EventRow, MAX_EVENT_TEXT, eventRow } from './events.schemas';

/**
 * The bulk import's hot path: zod costs ~7 µs per event row (mostly the timestamp union + transform), as much as
 * reading and writing the row. This accepts the common, clearly valid row with plain checks and returns exactly
 * what `eventRow` would; anything unusual (a Date object, a bad field, an odd value) returns null and goes
 * through zod, which decides and reports. test/unit/event-features.test.ts checks the two agree.
 */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_FUTURE_MS = 366 * 24 * 3600 * 1000;
const TYPES = new Set<string>(EVENT_TYPES);

function id(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.trim();
  return s.length >= 1 && s.length <= 200 && badTextReason(s) === null ? s : null;
}

/** undefined: field absent (omitted); null: explicit null; false: not clearly valid. */
function optionalText(v: unknown): string | null | undefined | false {
  if (v === undefined || v === null) return v;
  if (typeof v !== 'string') return false;
  const s = v.trim();
  return s.length <= 200 && badTextReason(s) === null ? s : false;
}

export function parseEventFast(d: unknown): EventRow | null {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return null;
  const r = d as Record<string, unknown>;
  const externalId = id(r.externalId);
  const customerExternalId = id(r.customerExternalId);
  if (externalId === null || customerExternalId === null) return null;
  const at = r.occurredAt;
  if (typeof at !== 'string' || !ISO_WITH_ZONE.test(at) || !isValidIsoTimestamp(at)) return null;
  const occurredAt = new Date(at);
  const t = occurredAt.getTime();
  if (!Number.isFinite(t) || t < MIN_TIME || t > Date.now() + MAX_FUTURE_MS) return null;
  if (typeof r.type !== 'string' || !TYPES.has(r.type)) return null;
  const productId = optionalText(r.productId);
  const category = optionalText(r.category);
  if (productId === false || category === false) return null;
  let text: string | null = null;
  if (r.text !== undefined && r.text !== null) {
    if (typeof r.text !== 'string' || r.text.length > MAX_EVENT_TEXT || badTextReason(r.text) !== null) return null;
    text = r.text.trim() === '' ? null : r.text;
  }
  const p = r.properties;
  if (p !== undefined && p !== null) {
    if (typeof p !== 'object' || Object.getPrototypeOf(p) !== Object.prototype) return null;
    if (JSON.stringify(p).length > 16_384 || findBadText(p) !== null) return null;
  }
  const out: EventRow = { externalId, customerExternalId, occurredAt, type: r.type as EventRow['type'], text };
  if (productId !== undefined) out.productId = productId;
  if (category !== undefined) out.category = category;
  if (p !== undefined) out.properties = p as Record<string, unknown> | null;
  return out;
}

/** `eventRow` with the fast path in front: same results, a fraction of the cost for valid rows. */
export const eventRowImport = {
  safeParse(data: unknown): ReturnType<typeof eventRow.safeParse> {
    const fast = parseEventFast(data);
    return fast ? { success: true, data: fast } : eventRow.safeParse(data);
  },
};
