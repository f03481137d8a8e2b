import DataLoader from 'dataloader';
import type { Comment, Customer, ModelVersion, PrismaClient, Score, Transaction } from '../generated/prisma/client';
import { type CustomerStatsRow, loadCustomerStats } from '../customers/customer-stats.service';
import type { Page } from '../customers/cursor';
import { type HistoryKey, loadCommentPages, loadTransactionPages } from '../customers/history.service';
import { loadLatestScores } from '../customers/latest-score.service';

/**
 * Per-request batching: a page of 500 customers asking for stats, score and history costs a handful of queries,
 * not 500 × fields. New per request, so nothing is cached across requests or API keys.
 */
export function createLoaders(prisma: PrismaClient) {
  const historyKey = (k: HistoryKey) => `${k.customerId}|${k.first ?? ''}|${k.after ?? ''}`;
  return {
    customerById: new DataLoader<number, Customer | null>(async (ids) => {
      const rows = await prisma.customer.findMany({ where: { id: { in: [...ids] } } });
      const byId = new Map(rows.map((c) => [c.id, c]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    modelVersionById: new DataLoader<number, ModelVersion | null>(async (ids) => {
      const rows = await prisma.modelVersion.findMany({ where: { id: { in: [...ids] } } });
      const byId = new Map(rows.map((m) => [m.id, m]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    championVersionIds: new DataLoader<'all', Set<number>>(async (keys) => {
      const rows = await prisma.modelChampion.findMany({ select: { modelVersionId: true } });
      return keys.map(() => new Set(rows.map((r) => r.modelVersionId)));
    }),
    stats: new DataLoader<number, CustomerStatsRow>((ids) => loadCustomerStats(prisma, ids)),
    latestScore: new DataLoader<number, Score | null>((ids) => loadLatestScores(prisma, ids)),
    transactions: new DataLoader<HistoryKey, Page<Transaction>, string>((keys) => loadTransactionPages(prisma, keys), {
      cacheKeyFn: historyKey,
    }),
    comments: new DataLoader<HistoryKey, Page<Comment>, string>((keys) => loadCommentPages(prisma, keys), {
      cacheKeyFn: historyKey,
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
