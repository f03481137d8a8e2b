import type { ModelStatus } from '../../generated/prisma/client';
import { DomainError } from '../../lib/errors';
import { promoteIfBetter } from '../../models/training/registry.service';
import { TRAIN_DEDUPE_KEY } from '../../jobs/handlers/train-model.job';
import { type GqlContext, requireRole } from '../context';

const versionId = (id: string | number) => {
  const n = Number(id);
  if (!Number.isInteger(n) || n <= 0) throw new DomainError('BAD_USER_INPUT', 'invalid model id', { issues: [{ field: 'id', message: 'must be a positive integer' }] });
  return n;
};

export const modelsResolvers = {
  Query: {
    models: async (_: unknown, args: { kind?: string; status?: ModelStatus; first?: number }, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      return ctx.app.db.prisma.modelVersion.findMany({
        where: { ...(args.kind ? { kind: args.kind } : {}), ...(args.status ? { status: args.status } : {}) },
        orderBy: { id: 'desc' },
        take: Math.min(Math.max(args.first ?? 50, 1), 500),
        omit: { artifact: true },
      });
    },
    model: async (_: unknown, args: { id: string }, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      return ctx.app.db.prisma.modelVersion.findUnique({ where: { id: versionId(args.id) }, omit: { artifact: true } });
    },
  },
  Mutation: {
    retrainModel: async (_: unknown, args: { horizonDays: number; cutoff?: Date | null; options?: Record<string, unknown> | null }, ctx: GqlContext) => {
      requireRole(ctx, 'admin');
      const payload = { horizonDays: args.horizonDays, ...(args.cutoff ? { cutoff: args.cutoff.toISOString() } : {}), options: args.options ?? {} };
      // One key for every retrain request: a second request while one runs returns that run (one at a time).
      return ctx.app.queue.enqueue('models.train', payload, { dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts: 1 });
    },
    promoteModel: async (_: unknown, args: { id: string }, ctx: GqlContext) => {
      requireRole(ctx, 'admin');
      const id = versionId(args.id);
      const r = await promoteIfBetter(ctx.app.db.prisma, id, { force: true });
      const scoringJob = r.promoted ? await ctx.app.queue.enqueue('models.score', { modelVersionId: id }, { dedupeKey: `models.score:${id}` }) : null;
      const modelVersion = await ctx.app.db.prisma.modelVersion.findUnique({ where: { id }, omit: { artifact: true } });
      return { modelVersion, promoted: r.promoted, reason: r.reason, scoringJob };
    },
    scoreCustomers: async (_: unknown, args: { modelVersionId?: string | null }, ctx: GqlContext) => {
      requireRole(ctx, 'admin');
      const payload = args.modelVersionId ? { modelVersionId: versionId(args.modelVersionId) } : {};
      return ctx.app.queue.enqueue('models.score', payload, { dedupeKey: `models.score:${args.modelVersionId ?? 'champion'}` });
    },
  },
};
