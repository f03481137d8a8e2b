import { eraseCustomer } from '../../customers/erase.service';
import { findCustomer, listCustomers } from '../../customers/customers.query';
import { notFound } from '../../lib/errors';
import type { Resolvers } from '../__generated__/resolvers-types';
import { requireRole } from '../context';
import { domain } from '../errors';

export const customersResolvers: Resolvers = {
  Query: {
    customer: (_, args, ctx) => {
      requireRole(ctx, 'reader');
      return domain(() => findCustomer(ctx.app.db.prisma, args, (id, score) => ctx.loaders.latestScore.prime(id, score)));
    },
    customers: (_, args, ctx) => {
      requireRole(ctx, 'reader');
      return domain(() => listCustomers(ctx.app.db.prisma, args));
    },
  },
  Mutation: {
    deleteCustomer: (_, args, ctx) => {
      requireRole(ctx, 'admin');
      ctx.app.log.info({ requestId: ctx.requestId, apiKey: ctx.apiKey.id }, 'deleteCustomer');
      return domain(() => eraseCustomer(ctx.app.db.prisma, args.externalId));
    },
  },
  Customer: {
    id: (c) => String(c.id),
    stats: (c, _, ctx) => ctx.loaders.stats.load(c.id),
    latestScore: (c, _, ctx) => ctx.loaders.latestScore.load(c.id),
    score: (c, _, ctx) => ctx.loaders.latestScore.load(c.id),
    transactions: (c, args, ctx) => domain(() => ctx.loaders.transactions.load({ customerId: c.id, first: args.first, after: args.after })),
    comments: (c, args, ctx) => domain(() => ctx.loaders.comments.load({ customerId: c.id, first: args.first, after: args.after })),
  },
  Transaction: {
    id: (t) => String(t.id),
    amount: (t) => t.amount.toFixed(),
    customer: (t, _, ctx) => domain(async () => (await ctx.loaders.customerById.load(t.customerId)) ?? Promise.reject(notFound('customer'))),
  },
  Comment: {
    id: (c) => String(c.id),
    customer: (c, _, ctx) => domain(async () => (await ctx.loaders.customerById.load(c.customerId)) ?? Promise.reject(notFound('customer'))),
  },
  Score: {
    clv: (s) => s.clv.toFixed(),
    modelVersion: (s, _, ctx) =>
      domain(async () => (await ctx.loaders.modelVersionById.load(s.modelVersionId)) ?? Promise.reject(notFound('model version'))),
  },
  ModelVersion: {
    id: (m) => String(m.id),
    isChampion: async (m, _, ctx) => (await ctx.loaders.championVersionIds.load('all')).has(m.id),
  },
};
