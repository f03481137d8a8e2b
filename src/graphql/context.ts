import type { ApiKey, ApiKeyRole } from '../generated/prisma/client';
import type { App } from '../app';
import { roleAllows, verifyApiKey } from '../auth/api-keys';
import { gqlError } from './errors';
import type { Loaders } from './loaders';

export interface GqlContext {
  app: App;
  apiKey: ApiKey;
  requestId: string;
  loaders: Loaders;
}

/** Missing/invalid key: the whole request is refused with 401 before any resolver runs. */
export async function authenticate(app: App, authorization: string | undefined): Promise<ApiKey> {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!m) throw gqlError('UNAUTHENTICATED', 'missing API key: send "Authorization: Bearer <key>"');
  const key = await verifyApiKey(app.db.prisma, m[1]!);
  if (!key) throw gqlError('UNAUTHENTICATED', 'invalid or revoked API key');
  return key;
}

export function requireRole(ctx: GqlContext, role: ApiKeyRole): void {
  if (!roleAllows(ctx.apiKey.role, role)) {
    throw gqlError('FORBIDDEN', `this operation needs the ${role} role; the key "${ctx.apiKey.name}" is ${ctx.apiKey.role}`);
  }
}
