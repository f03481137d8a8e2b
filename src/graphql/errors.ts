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
    log.error({ err: (original as Error)?.message, path: formatted.path }, 'unexpected error in resolver');
    return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL' } };
  };
}

function withoutHttp(ext: Record<string, unknown> | undefined): Record<string, unknown> {
  const { http: _http, stacktrace: _s, ...rest } = ext ?? {};
  return rest;
}
