import { embeddingConfigFromEnv } from '../../embeddings/embedding.config';
import { enqueueEmbedComments } from '../../embeddings/embed.enqueue';
import { embeddingStatus, getProvider } from '../../embeddings/provider.factory';
import { DomainError } from '../../lib/errors';
import { type CommentFilter, searchComments, searchCustomers } from '../../similarity/search.service';
import { type GqlContext, requireRole } from '../context';
import { domain } from '../errors';

async function provider(ctx: GqlContext) {
  const cfg = embeddingConfigFromEnv(ctx.app.env);
  const status = await embeddingStatus(cfg);
  if (!status.available) throw new DomainError('UNAVAILABLE', `semantic search is unavailable: ${status.reason}`);
  return getProvider(cfg);
}

export const embeddingsResolvers = {
  Query: {
    embeddingStatus: async (_: unknown, __: unknown, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      return embeddingStatus(embeddingConfigFromEnv(ctx.app.env));
    },
    searchComments: async (_: unknown, args: { text: string; k?: number; filter?: CommentFilter }, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      return domain(async () => searchComments(ctx.app.db.prisma, await provider(ctx), args.text, args.k ?? 10, args.filter ?? {}));
    },
    searchCustomers: async (_: unknown, args: { text: string; k?: number }, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      return domain(async () => searchCustomers(ctx.app.db.prisma, await provider(ctx), args.text, args.k ?? 10));
    },
  },
  Mutation: {
    backfillEmbeddings: async (_: unknown, __: unknown, ctx: GqlContext) => {
      requireRole(ctx, 'admin');
      return enqueueEmbedComments(ctx.app);
    },
  },
};
