import { badInput } from '../../lib/errors';
import type { SourceRecord } from './import.source';
import type { Emit, Entity, Format } from './import.types';

/** Generic column name → schema field, per entity. A mapping renames the input columns, not the fields. */
const FIELDS: Record<Entity, Record<string, string>> = {
  customers: { customer_id: 'externalId', birth_year: 'birthYear', gender: 'gender', region: 'region', signup_date: 'signupDate' },
  transactions: {
    transaction_id: 'externalId',
    customer_id: 'customerExternalId',
    occurred_at: 'occurredAt',
    amount: 'amount',
    currency: 'currency',
    quantity: 'quantity',
    product_id: 'productId',
    category: 'category',
    description: 'description',
    kind: 'kind',
  },
  comments: {
    comment_id: 'externalId',
    customer_id: 'customerExternalId',
    created_at: 'createdAt',
    source: 'source',
    language: 'language',
    text: 'text',
  },
  events: {
    event_id: 'externalId',
    customer_id: 'customerExternalId',
    occurred_at: 'occurredAt',
    type: 'type',
    product_id: 'productId',
    category: 'category',
    text: 'text',
    properties: 'properties',
  },
};
const INT_FIELDS = new Set(['birthYear', 'quantity']);

/** `{"customer_id": "CustomerNo", ...}`: generic name → column of the file. Unknown generic names are an error. */
export type Mapping = Record<string, string>;

export function parseMapping(entity: Entity, mapping: unknown): Mapping {
  if (mapping == null) return {};
  if (typeof mapping !== 'object' || Array.isArray(mapping)) throw badInput('--mapping must be a JSON object of generic name → column');
  const known = FIELDS[entity];
  const issues = Object.entries(mapping as Record<string, unknown>).flatMap(([k, v]) => {
    if (!(k in known)) {
      return [{ field: k, message: `not a ${entity} field; expected one of ${Object.keys(known).join(', ')}` }];
    }
    return typeof v === 'string' && v ? [] : [{ field: k, message: 'must map to a column name' }];
  });
  if (issues.length) throw badInput('invalid --mapping', issues);
  return mapping as Mapping;
}

/**
 * CSV cells are strings: integers are converted when they look like integers (otherwise zod reports the bad
 * value), empty cells count as absent so schema defaults apply. NDJSON values pass through unchanged.
 */
function coerce(field: string, v: unknown): unknown {
  if (typeof v !== 'string') return v ?? undefined;
  const s = v.trim();
  if (s === '') return undefined;
  if (INT_FIELDS.has(field) && /^-?\d{1,9}$/.test(s)) return Number(s);
  if (field === 'properties' && s.startsWith('{')) return parseJsonObject(s);
  return s;
}

export function genericFormat(entity: Entity, mapping: Mapping = {}): Format {
  const fields = Object.entries(FIELDS[entity]).map(([name, field]) => ({ field, column: mapping[name] ?? name }));
  const columnOf = new Map(fields.map((f) => [f.field, f.column]));
  const used = new Set(fields.map((f) => f.column));
  return {
    name: 'generic',
    entity,
    column: (field) => columnOf.get(field.split('.')[0]!) ?? field,
    map({ line, rec }: SourceRecord, out: Emit[]) {
      if (typeof rec.__error === 'string') {
        out.push({ type: 'reject', line, issues: [{ field: 'line', message: rec.__error }] });
        return;
      }
      const data: Record<string, unknown> = {};
      for (const { field, column } of fields) {
        const v = coerce(field, rec[column]);
        if (v !== undefined) data[field] = v;
      }
      // A properties value that is not an object is left for zod to reject rather than replaced by the other columns.
      const ownOk = entity !== 'events' || data.properties === undefined || (typeof data.properties === 'object' && data.properties !== null);
      if (entity === 'customers' || (entity === 'events' && ownOk)) {
        // Every other column becomes an attribute (an event property), so no input is silently dropped.
        const bag = entity === 'customers' ? 'attributes' : 'properties';
        const own = entity === 'customers' ? rec.attributes : data.properties;
        const attributes: Record<string, unknown> = own && typeof own === 'object' && !Array.isArray(own) ? { ...(own as object) } : {};
        for (const [k, v] of Object.entries(rec)) {
          if (used.has(k) || k === bag || k === '__extra' || v === undefined || v === '') continue;
          attributes[k] = v;
        }
        if (Object.keys(attributes).length) data[bag] = attributes;
      }
      out.push({ type: 'row', line, data, record: rec });
    },
    flush() {},
  };
}

/** A CSV cell holding a JSON object (event properties); anything else is passed on for zod to reject. */
function parseJsonObject(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
