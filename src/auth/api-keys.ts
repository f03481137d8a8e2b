import crypto from 'node:crypto';
import type { ApiKey, ApiKeyRole, PrismaClient } from '../generated/prisma/client';
import { DomainError, notFound } from '../lib/errors';

export const ROLES: readonly ApiKeyRole[] = ['reader', 'writer', 'admin'];
const RANK: Record<ApiKeyRole, number> = { reader: 0, writer: 1, admin: 2 };

/** reader < writer < admin: a key may do everything a lower role may. */
export function roleAllows(have: ApiKeyRole, need: ApiKeyRole): boolean {
  return RANK[have] >= RANK[need];
}

export function hashKey(key: string): string {
  return crypto.createHash('sha256').update(key, 'utf8').digest('hex');
}

/** 32 random bytes in base64url behind a readable prefix; only the sha256 is stored. */
export async function createApiKey(
  prisma: PrismaClient,
  input: { name: string; role: ApiKeyRole },
): Promise<{ key: string; record: ApiKey }> {
  const name = input.name.trim();
  if (!name || name.length > 200) throw new DomainError('BAD_USER_INPUT', 'name must be 1 to 200 characters');
  if (!ROLES.includes(input.role)) throw new DomainError('BAD_USER_INPUT', `role must be one of ${ROLES.join(', ')}`);
  const key = `vg_${input.role}_${crypto.randomBytes(32).toString('base64url')}`;
  const record = await prisma.apiKey.create({
    data: { name, role: input.role, prefix: key.slice(0, 12), hash: hashKey(key) },
  });
  return { key, record };
}

/** The active key for a presented secret, or null. */
export async function verifyApiKey(prisma: PrismaClient, presented: string): Promise<ApiKey | null> {
  if (!/^vg_[a-z]+_[A-Za-z0-9_-]{20,100}$/.test(presented)) return null;
  const hash = hashKey(presented);
  const found = await prisma.apiKey.findUnique({ where: { hash } });
  // The lookup is by hash, so timing reveals nothing about the secret; compare in constant time anyway.
  if (!found || !crypto.timingSafeEqual(Buffer.from(found.hash), Buffer.from(hash))) return null;
  return found.revokedAt ? null : found;
}

export async function revokeApiKey(prisma: PrismaClient, id: number): Promise<ApiKey> {
  const existing = await prisma.apiKey.findUnique({ where: { id } });
  if (!existing) throw notFound(`API key ${id}`);
  return existing.revokedAt ? existing : prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
}

export async function listApiKeys(prisma: PrismaClient): Promise<ApiKey[]> {
  return prisma.apiKey.findMany({ orderBy: { id: 'asc' } });
}
