import DataLoader from 'dataloader';
import { notFound } from '../../lib/errors';
import { clvHistogram } from '../../segments/histogram.service';
import { type SegmentAssignment, getSegment, listSegments, loadCustomerSegments, segmentCustomers } from '../../segments/segments.service';
import { segmentTransitions } from '../../segments/transitions.service';
import type { Resolvers } from '../__generated__/resolvers-types';
import { type GqlContext, requireRole } from '../context';
import { domain } from '../errors';

// Per-request batching for Customer.segments without touching the shared loader set: one loader per context.
const segmentLoaders = new WeakMap<GqlContext, DataLoader<number, SegmentAssignment[]>>();
const segmentLoader = (ctx: GqlContext) => {
  let l = segmentLoaders.get(ctx);
  if (!l) segmentLoaders.set(ctx, (l = new DataLoader((ids: readonly number[]) => loadCustomerSegments(ctx.app.db.prisma, ids))));
  return l;
};

export const segmentsResolvers: Resolvers = {
  Query: {
    segments: (_, args, ctx) => {
      requireRole(ctx, 'reader');
      return domain(() => listSegments(ctx.app.db.prisma, args.kind ?? 'VALUE_TIER'));
    },
    segment: (_, args, ctx) => {
      requireRole(ctx, 'reader');
      return domain(() => getSegment(ctx.app.db.prisma, args.kind, args.name));
    },
    segmentTransitions: (_, args, ctx) => {
      requireRole(ctx, 'reader');
      return domain(() => segmentTransitions(ctx.app.db.prisma, args.kind ?? 'VALUE_TIER'));
    },
    scoringRuns: (_, args, ctx) => {
      requireRole(ctx, 'reader');
      return ctx.app.db.prisma.scoringRun.findMany({ orderBy: { id: 'desc' }, take: Math.min(Math.max(args.first ?? 20, 1), 500) });
    },
    clvHistogram: (_, args, ctx) => {
      requireRole(ctx, 'reader');
      return domain(() => clvHistogram(ctx.app.db.prisma, { bins: args.bins, log: args.log }));
    },
  },
  Segment: {
    customers: (s, args, ctx) => domain(() => segmentCustomers(ctx.app.db.prisma, s, args)),
  },
  ScoringRun: {
    id: (r) => String(r.id),
    modelVersion: (r, _, ctx) =>
      domain(async () => (await ctx.loaders.modelVersionById.load(r.modelVersionId)) ?? Promise.reject(notFound('model version'))),
  },
  Customer: {
    segments: (c, _, ctx) => segmentLoader(ctx).load(c.id),
  },
};
