import type { ApiKey, ApiKeyRole } from '../generated/prisma/client';
import type { App } from '../app';
import type { Logger } from '../lib/logger';
import { roleAllows, verifyApiKey } from '../auth/api-keys';
import { DATABASE_UNAVAILABLE, gqlError, isDatabaseUnavailable } from './errors';
import type { Loaders } from './loaders';

export interface GqlContext {
  app: App;
  apiKey: ApiKey;
  requestId: string;
  /** The app's logger bound to this request's id: use it in resolvers so every line can be traced. */
  log: Logger;
  loaders: Loaders;
}

/** Missing/invalid key: the whole request is refused with 401 before any resolver runs. */
export async function authenticate(app: App, authorization: string | undefined): Promise<ApiKey> {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!m) throw gqlError('UNAUTHENTICATED', 'missing API key: send "Authorization: Bearer <key>"');
  const key = await verifyApiKey(app.db.prisma, m[1]!).catch((err: unknown) => {
    // Keys live in the database: while it is down every request is refused as retryable, not as a bad key.
    if (isDatabaseUnavailable(err)) throw gqlError('UNAVAILABLE', DATABASE_UNAVAILABLE);
    throw err;
  });
  if (!key) throw gqlError('UNAUTHENTICATED', 'invalid or revoked API key');
  return key;
}

export function requireRole(ctx: GqlContext, role: ApiKeyRole): void {
  if (!roleAllows(ctx.apiKey.role, role)) {
    throw gqlError('FORBIDDEN', `this operation needs the ${role} role; the key "${ctx.apiKey.name}" is ${ctx.apiKey.role}`);
  }
}
