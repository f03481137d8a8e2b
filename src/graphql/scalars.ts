import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { isValidIsoTimestamp } from '../lib/text';

export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'ISO-8601 timestamp with time zone, e.g. 2024-03-01T12:00:00Z',
  serialize: (v) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString()),
  parseValue: (v) => parseDate(v),
  parseLiteral: (ast) => (ast.kind === Kind.STRING ? parseDate(ast.value) : invalid(ast)),
});

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Arbitrary JSON value',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: function literal(ast): unknown {
    switch (ast.kind) {
      case Kind.STRING:
      case Kind.BOOLEAN:
        return ast.value;
      case Kind.INT:
      case Kind.FLOAT:
        return Number(ast.value);
      case Kind.NULL:
        return null;
      case Kind.LIST:
        return ast.values.map((v) => literal(v));
      case Kind.OBJECT:
        return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value)]));
      default:
        return invalid(ast);
    }
  },
});

/**
 * Exact decimals travel as strings. Inputs accept strings or numbers and are checked by the domain (so an ingest
 * batch reports a bad amount with its row index instead of failing the whole request here).
 */
export const DecimalScalar = new GraphQLScalarType({
  name: 'Decimal',
  description: 'Exact decimal number as a string, e.g. "12.3400"',
  // Prisma's Decimal: toFixed() never switches to exponent notation the way toString() does for tiny values.
  serialize: (v) =>
    typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : (v as { toFixed(): string }).toFixed(),
  parseValue: (v) => {
    if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v;
    throw new TypeError('Decimal must be a string or a finite number');
  },
  parseLiteral: (ast) => (ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT ? ast.value : invalid(ast)),
});

function parseDate(v: unknown): Date {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(v)) {
    throw new TypeError('DateTime must be an ISO-8601 string with a time zone');
  }
  // Real calendar fields only (no 2024-02-30 rolling over to March, no year 0000 that PostgreSQL rejects).
  if (!isValidIsoTimestamp(v)) throw new TypeError('DateTime is not a valid date: month, day, hour or offset out of range');
  const d = new Date(v);
  return d;
}

function invalid(ast: ValueNode): never {
  throw new TypeError(`unexpected literal of kind ${ast.kind}`);
}
