import type { PrismaClient } from '../../generated/prisma/client';
import { embeddingConfigFromEnv, modelKey } from '../../embeddings/embedding.config';
import { badInput, notFound } from '../../lib/errors';
import { type SimilarCustomerHit, type SimilarityConfig, type SimilarityFilter, type SimilarityMode, lookalikes, similarCustomers } from '../../similarity/similar-customers.service';
import type { Env } from '../../config/env';
import { type GqlContext, requireRole } from '../context';
import { domain } from '../errors';

function config(env: Env): SimilarityConfig {
  const e = embeddingConfigFromEnv(env);
  return { semantic: { model: modelKey(e), dim: e.dim }, efSearch: env.SIMILARITY_EF_SEARCH, exactBelow: env.SIMILARITY_EXACT_BELOW };
}

const internalId = (id: string, field: string) => {
  if (!/^\d{1,9}$/.test(id)) throw badInput(`${field} must be a customer id`, [{ field, message: 'not a customer id' }]);
  return Number(id);
};

/** Internal ids for external ids, in order; an unknown one is NOT_FOUND. */
async function idsOf(prisma: PrismaClient, externalIds: readonly string[]): Promise<number[]> {
  const rows = await prisma.customer.findMany({ where: { externalId: { in: [...externalIds] } }, select: { id: true, externalId: true } });
  const byExt = new Map(rows.map((r) => [r.externalId, r.id]));
  return externalIds.map((x) => {
    const id = byExt.get(x);
    if (id == null) throw notFound(`customer ${x}`);
    return id;
  });
}

/** Customers through the request's loader (one query for the whole list); one erased meanwhile drops out. */
async function withCustomers(ctx: GqlContext, hits: SimilarCustomerHit[]) {
  const customers = await Promise.all(hits.map((h) => ctx.loaders.customerById.load(h.customerId)));
  return hits.flatMap((h, i) => (customers[i] ? [{ ...h, customer: customers[i]! }] : []));
}

interface CommonArgs {
  k?: number | null;
  by?: SimilarityMode | null;
  filter?: SimilarityFilter | null;
  semanticWeight?: number | null;
}

export const similarityResolvers = {
  Query: {
    similarCustomers: async (_: unknown, args: CommonArgs & { customerId?: string | null; externalId?: string | null }, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      return domain(async () => {
        if ((args.customerId == null) === (args.externalId == null)) {
          throw badInput('give exactly one of customerId or externalId', [{ field: 'customerId', message: 'exactly one of customerId, externalId' }]);
        }
        const prisma = ctx.app.db.prisma;
        const customerId = args.customerId != null ? internalId(args.customerId, 'customerId') : (await idsOf(prisma, [args.externalId!]))[0]!;
        if (args.customerId != null && !(await ctx.loaders.customerById.load(customerId))) throw notFound(`customer ${args.customerId}`);
        const r = await similarCustomers(prisma, config(ctx.app.env), {
          customerId,
          k: args.k ?? undefined,
          by: args.by ?? undefined,
          filter: args.filter,
          semanticWeight: args.semanticWeight ?? undefined,
        });
        return withCustomers(ctx, r.hits);
      });
    },
    lookalikes: async (_: unknown, args: CommonArgs & { seedCustomerIds?: string[] | null; seedExternalIds?: string[] | null }, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      return domain(async () => {
        const ids = (args.seedCustomerIds ?? []).map((id) => internalId(id, 'seedCustomerIds'));
        if (args.seedExternalIds?.length) ids.push(...(await idsOf(ctx.app.db.prisma, args.seedExternalIds)));
        const r = await lookalikes(ctx.app.db.prisma, config(ctx.app.env), {
          seedCustomerIds: ids,
          k: args.k ?? undefined,
          by: args.by ?? undefined,
          filter: args.filter,
          semanticWeight: args.semanticWeight ?? undefined,
        });
        return withCustomers(ctx, r.hits);
      });
    },
  },
};
