import { createApiKey, listApiKeys, revokeApiKey } from '../../auth/api-keys';
import { badInput } from '../../lib/errors';
import type { Resolvers } from '../__generated__/resolvers-types';
import { requireRole } from '../context';
import { domain } from '../errors';

export const authResolvers: Resolvers = {
  Query: {
    apiKeys: (_, __, ctx) => {
      requireRole(ctx, 'admin');
      return listApiKeys(ctx.app.db.prisma);
    },
  },
  Mutation: {
    createApiKey: (_, args, ctx) => {
      requireRole(ctx, 'admin');
      return domain(async () => {
        const { key, record } = await createApiKey(ctx.app.db.prisma, args);
        ctx.app.log.info({ requestId: ctx.requestId, by: ctx.apiKey.id, created: record.id, role: record.role }, 'API key created');
        return { key, apiKey: record };
      });
    },
    revokeApiKey: (_, args, ctx) => {
      requireRole(ctx, 'admin');
      return domain(async () => {
        if (!/^\d{1,9}$/.test(args.id)) throw badInput('id must be a key id', [{ field: 'id', message: 'must be a numeric key id' }]);
        const record = await revokeApiKey(ctx.app.db.prisma, Number(args.id));
        ctx.app.log.info({ requestId: ctx.requestId, by: ctx.apiKey.id, revoked: record.id }, 'API key revoked');
        return record;
      });
    },
  },
  ApiKey: {
    id: (k) => String(k.id),
  },
};
