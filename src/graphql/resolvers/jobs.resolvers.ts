import type { JobState } from '../../generated/prisma/client';
import { getRun } from '../../jobs/job-runs';
import { type GqlContext, requireRole } from '../context';

export const jobsResolvers = {
  Query: {
    jobRun: async (_: unknown, args: { id: string }, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      return getRun(ctx.app.db.prisma, args.id).catch(() => null);
    },
    jobRuns: async (_: unknown, args: { state?: JobState; name?: string; first?: number }, ctx: GqlContext) => {
      requireRole(ctx, 'reader');
      return ctx.app.db.prisma.jobRun.findMany({
        where: { ...(args.state ? { state: args.state } : {}), ...(args.name ? { name: args.name } : {}) },
        orderBy: { createdAt: 'desc' },
        take: Math.min(Math.max(args.first ?? 50, 1), 500),
      });
    },
  },
  Mutation: {
    runSelftest: async (_: unknown, args: { durationMs?: number }, ctx: GqlContext) => {
      requireRole(ctx, 'admin');
      return ctx.app.queue.enqueue('system.selftest', { durationMs: args.durationMs ?? 200 });
    },
  },
};
