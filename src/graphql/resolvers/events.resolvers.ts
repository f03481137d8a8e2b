import DataLoader from 'dataloader';
import { ingestEventBatch } from '../../events/events-ingest.service';
import { enqueueSearchEmbeddings } from '../../events/events.enqueue';
import { type TimelineItem, type TimelineKey, loadTimelinePages } from '../../events/timeline.service';
import type { Page } from '../../customers/cursor';
import type { Resolvers } from '../__generated__/resolvers-types';
import { type GqlContext, requireRole } from '../context';
import { domain } from '../errors';

/** Per request (keyed by its context object, like the loaders in ctx.loaders): never shared across requests or keys. */
const timelineLoaders = new WeakMap<GqlContext, DataLoader<TimelineKey, Page<TimelineItem>, string>>();
function timelineLoader(ctx: GqlContext) {
  let l = timelineLoaders.get(ctx);
  if (!l) {
    l = new DataLoader((keys) => loadTimelinePages(ctx.app.db.prisma, keys), {
      cacheKeyFn: (k) => JSON.stringify([k.customerId, k.first ?? null, k.after ?? null, k.kinds ?? null]),
    });
    timelineLoaders.set(ctx, l);
  }
  return l;
}

export const eventsResolvers: Resolvers = {
  Mutation: {
    ingestEvents: (_, args, ctx) => {
      requireRole(ctx, 'writer');
      return domain(async () => {
        const r = await ingestEventBatch(ctx.app.db.prisma, args.rows, args.customers);
        return { ...r, embeddingJob: await enqueueSearchEmbeddings(ctx.app, r.changedSearchIds) };
      });
    },
  },
  Customer: {
    timeline: (c, args, ctx) => domain(() => timelineLoader(ctx).load({ customerId: c.id, first: args.first, after: args.after, kinds: args.kinds })),
  },
  TimelineNode: {
    // Parents are Prisma rows (Transaction, Comment) or the Event shape of timeline.service.
    __resolveType: (n) => ('amount' in n ? 'Transaction' : 'source' in n ? 'Comment' : 'Event'),
  },
};
