import DataLoader from 'dataloader';
import { currentFeatures, customerFeatures, type FeatureVector } from '../../features/feature-store.service';
import { FEATURE_DEFINITIONS } from '../../features/features.definitions';
import { DomainError } from '../../lib/errors';
import { type GqlContext, requireRole } from '../context';

/** One DataLoader per request (keyed by its context), so a page of customers reads its snapshots in one query. */
const snapshotLoaders = new WeakMap<GqlContext, DataLoader<number, FeatureVector | null>>();

function snapshotLoader(ctx: GqlContext): DataLoader<number, FeatureVector | null> {
  let l = snapshotLoaders.get(ctx);
  if (!l) snapshotLoaders.set(ctx, (l = new DataLoader((ids) => currentFeatures(ctx.app.db.prisma, ids))));
  return l;
}

export const featuresResolvers = {
  Customer: {
    features: async (parent: { id: number }, args: { asOf?: Date | null }, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      if (!args.asOf) return snapshotLoader(ctx).load(parent.id);
      return customerFeatures(ctx.app.db.prisma, { customerId: parent.id, asOf: args.asOf });
    },
  },
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
