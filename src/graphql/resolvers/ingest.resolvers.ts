import { ingestCustomerBatch, ingestEvents } from '../../customers/customer-ingest.service';
import { jobNames } from '../../jobs/registry';
import type { Resolvers } from '../__generated__/resolvers-types';
import { type GqlContext, requireRole } from '../context';
import { domain } from '../errors';

/** Registered by the embeddings domain; until it exists, comments are stored without queuing work. */
export const EMBED_COMMENTS_JOB = 'embeddings.embed-comments';

export const ingestResolvers: Resolvers = {
  Mutation: {
    ingestCustomers: (_, args, ctx) => {
      requireRole(ctx, 'writer');
      return domain(() => ingestCustomerBatch(ctx.app.db.prisma, args.rows));
    },
    ingestTransactions: (_, args, ctx) => {
      requireRole(ctx, 'writer');
      return domain(async () => {
        const r = await ingestEvents(ctx.app.db.prisma, 'transactions', args.rows, args.customers);
        return { ...r, embeddingJob: null };
      });
    },
    ingestComments: (_, args, ctx) => {
      requireRole(ctx, 'writer');
      return domain(async () => {
        const r = await ingestEvents(ctx.app.db.prisma, 'comments', args.rows, args.customers);
        return { ...r, embeddingJob: await enqueueEmbeddings(ctx, r.changedCommentIds) };
      });
    },
  },
};

/** After the commit: the rows are durable even if enqueueing fails, and the embed job picks up pending ones anyway. */
async function enqueueEmbeddings(ctx: GqlContext, ids: bigint[]) {
  if (!ids.length || !jobNames().includes(EMBED_COMMENTS_JOB)) return null;
  try {
    return await ctx.app.queue.enqueue(EMBED_COMMENTS_JOB, { commentIds: ids.map(String) });
  } catch (err) {
    ctx.app.log.warn({ err: (err as Error).message, requestId: ctx.requestId }, 'could not enqueue comment embeddings');
    return null;
  }
}
