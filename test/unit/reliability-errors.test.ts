import { GraphQLError } from 'graphql';
import { formatError, isDatabaseUnavailable } from '../../src/graphql/errors';
import { aliasCount } from '../../src/graphql/guards';
import { createLogger } from '../../src/lib/logger';
import { badTextReason, findBadText, isValidIsoTimestamp } from '../../src/lib/text';
import { Kind, type FragmentDefinitionNode, type OperationDefinitionNode, parse } from 'graphql';

/** Error shapes as PrismaClient (adapter-pg) and pg raise them while PostgreSQL is down or restarting. */
const prismaError = (code: string, cause: Record<string, unknown>) =>
  Object.assign(new Error('Invalid `prisma.$queryRaw()` invocation'), { name: 'PrismaClientKnownRequestError', code, meta: { driverAdapterError: { name: 'DriverAdapterError', cause } } });

describe('database unavailability', () => {
  it('recognises unreachable, closed and shutting-down databases, and nothing else', () => {
    expect(isDatabaseUnavailable(prismaError('P1001', { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5432 }))).toBe(true);
    expect(isDatabaseUnavailable(prismaError('P2010', { kind: 'DatabaseNotReachable' }))).toBe(true);
    expect(isDatabaseUnavailable(prismaError('P2010', { kind: 'ConnectionClosed' }))).toBe(true);
    expect(isDatabaseUnavailable(prismaError('P2010', { kind: 'postgres', code: '57P01', message: 'terminating connection due to administrator command' }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('x', { cause: new Error('Connection terminated unexpectedly') }))).toBe(true);
    expect(isDatabaseUnavailable(prismaError('P2002', { kind: 'UniqueConstraintViolation' }))).toBe(false);
    expect(isDatabaseUnavailable(prismaError('P2010', { kind: 'postgres', code: '22P02', message: 'invalid input syntax' }))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('cannot read properties of undefined'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });

  it('formats it as UNAVAILABLE without driver details, other failures as INTERNAL', () => {
    const fmt = formatError(createLogger('silent'));
    const wrap = (original: Error) => new GraphQLError(original.message, { originalError: original, path: ['customers'] });
    const down = fmt({ message: 'x', path: ['customers'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }, wrap(prismaError('P1001', { kind: 'DatabaseNotReachable', host: '10.0.0.5' })));
    expect(down).toEqual({ message: 'the database is unavailable; retry shortly', path: ['customers'], extensions: { code: 'UNAVAILABLE' } });
    const bug = fmt({ message: 'x', path: ['customers'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }, wrap(new TypeError('boom at file.ts:12')));
    expect(bug).toEqual({ message: 'Internal server error', path: ['customers'], extensions: { code: 'INTERNAL' } });
  });
});

describe('text and timestamps PostgreSQL can store', () => {
  it('refuses NUL and unpaired surrogates, keeps every other character', () => {
    expect(badTextReason('a\u0000b')).toMatch(/NUL/);
    expect(badTextReason('\ud800')).toMatch(/surrogate/);
    expect(badTextReason('x\udc00')).toMatch(/surrogate/);
    for (const ok of ['', '👍', '\u202e\u200b\ufeff', 'e\u0301', '𝔘']) expect(badTextReason(ok)).toBeNull();
    expect(findBadText({ rows: [{ a: 'fine' }, { attributes: { ['k\u0000']: 1 } }] })).toEqual({ path: 'variables.rows.1.attributes.k\u0000', reason: 'key contains a NUL character (U+0000)' });
  });

  it('accepts real calendar instants only', () => {
    for (const ok of ['2024-02-29T00:00:00Z', '2023-12-31T23:59:59.999+14:00', '0001-01-01T00:00:00Z', '2024-06-01T12:00-0530']) expect([ok, isValidIsoTimestamp(ok)]).toEqual([ok, true]);
    for (const bad of ['2023-02-29T00:00:00Z', '2024-04-31T00:00:00Z', '2024-01-01T24:00:00Z', '0000-01-01T00:00:00Z', '2024-01-01T00:00:00+24:00', '2024-13-01T00:00:00Z', '2024-01-01T00:60:00Z', '2024-01-01']) {
      expect([bad, isValidIsoTimestamp(bad)]).toEqual([bad, false]);
    }
  });
});

describe('alias count', () => {
  const count = (q: string) => {
    const doc = parse(q);
    const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
    const frags = new Map(doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
    return aliasCount(op, frags, 1000);
  };
  it('counts aliases once per place a fragment is spread, and terminates on cycles', () => {
    expect(count('{ a: health { ok } b: health { x: ok } }')).toBe(3);
    expect(count('fragment F on Customer { p: id q: id } { c1: customer(id: "1") { ...F } c2: customer(id: "2") { ...F } }')).toBe(6);
    expect(count('fragment A on Customer { x: id ...B } fragment B on Customer { ...A } { customer(id: "1") { ...A } }')).toBe(1);
  });
});
