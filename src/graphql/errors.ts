import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DomainError, type ErrorCode, httpStatusFor } from '../lib/errors';
import type { Logger } from '../lib/logger';

/** The one place domain errors become GraphQL errors with extensions.code and an HTTP status. */
export function toGraphQLError(err: DomainError): GraphQLError {
  return new GraphQLError(err.message, {
    extensions: { code: err.code, http: { status: httpStatusFor(err.code) }, ...(err.details ?? {}) },
  });
}

export function gqlError(code: ErrorCode, message: string): GraphQLError {
  return toGraphQLError(new DomainError(code, message));
}

/**
 * Runs a domain call from a resolver: DomainErrors become GraphQLErrors carrying extensions.http.status (Apollo
 * reads it for the response status, e.g. 400 for BAD_USER_INPUT with its `issues`); anything else propagates and
 * formatError turns it into an opaque INTERNAL.
 */
export async function domain<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof DomainError ? toGraphQLError(err) : err;
  }
}

const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
const UNREACHABLE_CODES = new Set(['P1001', 'P1002', 'P1017', 'P2024', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', '53300']);
const UNREACHABLE_TEXT = /Can't reach database server|Connection terminated|terminating connection due to administrator command|the database system is (shutting down|starting up|in recovery mode)|Timed out fetching a new connection|timeout exceeded when trying to connect|Client has encountered a connection error/i;

/**
 * True when an error means the database cannot be reached right now (restart, failover, network, pool
 * exhausted) rather than that the request is wrong: the client should retry, so it gets 503 UNAVAILABLE.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as Record<string, any> | undefined, depth = 0; e && depth < 5; e = e.cause, depth++) {
    const adapter = e.meta?.driverAdapterError?.cause ?? (e.name === 'DriverAdapterError' ? e.cause : undefined);
    if (adapter && (UNREACHABLE_KINDS.has(adapter.kind) || UNREACHABLE_CODES.has(String(adapter.code ?? adapter.originalCode)))) return true;
    if (UNREACHABLE_CODES.has(String(e.code)) || UNREACHABLE_TEXT.test(String(e.message ?? ''))) return true;
  }
  return false;
}

export const DATABASE_UNAVAILABLE = 'the database is unavailable; retry shortly';

/** Never leak stack traces, SQL or driver messages: anything that is not a known error becomes INTERNAL. */
export function formatError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = (error as { originalError?: unknown })?.originalError ?? error;
    if (original instanceof DomainError) {
      const e = toGraphQLError(original);
      return { message: e.message, path: formatted.path, locations: formatted.locations, extensions: withoutHttp(e.extensions) };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') {
      return { ...formatted, extensions: withoutHttp({ ...formatted.extensions, stacktrace: undefined }) };
    }
    if (isDatabaseUnavailable(original)) {
      log.warn({ err: (original as Error)?.message, path: formatted.path }, 'database unavailable');
      return { message: DATABASE_UNAVAILABLE, path: formatted.path, extensions: { code: 'UNAVAILABLE' } };
    }
    log.error({ err: (original as Error)?.message, path: formatted.path }, 'unexpected error in resolver');
    return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL' } };
  };
}

function withoutHttp(ext: Record<string, unknown> | undefined): Record<string, unknown> {
  const { http: _http, stacktrace: _s, ...rest } = ext ?? {};
  return rest;
}
