import { customerFeatures } from '../../features/feature-store.service';
import { FEATURE_DEFINITIONS } from '../../features/features.definitions';
import { DomainError } from '../../lib/errors';
import { type GqlContext, requireRole } from '../context';

export const featuresResolvers = {
  Query: {
    customerFeatures: async (_: unknown, args: { externalId: string; asOf?: Date | null }, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      try {
        return await customerFeatures(ctx.app.db.prisma, { externalId: args.externalId, asOf: args.asOf ?? null });
      } catch (err) {
        if (err instanceof DomainError && err.code === 'NOT_FOUND') return null;
        throw err;
      }
    },
    featureDefinitions: (_: unknown, __: unknown, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      return FEATURE_DEFINITIONS.map((d) => ({ name: d.name, description: d.description }));
    },
  },
  Mutation: {
    refreshFeatures: async (_: unknown, __: unknown, ctx: GqlContext) => {
      requireRole(ctx, 'admin');
      return ctx.app.queue.enqueue('features.refresh', {}, { dedupeKey: 'features.refresh' });
    },
  },
};
