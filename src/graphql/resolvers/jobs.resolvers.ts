import { encodeCursor, pageSize, toPage } from '../../customers/cursor';
import type { JobRun } from '../../generated/prisma/client';
import { getRun } from '../../jobs/job-runs';
import { badInput } from '../../lib/errors';
import type { Resolvers } from '../__generated__/resolvers-types';
import { requireRole } from '../context';
import { domain } from '../errors';

const ORDER = 'job:createdAt:DESC';
const cursorOf = (r: JobRun) => encodeCursor({ o: ORDER, v: r.createdAt.toISOString(), id: r.id });

export const jobsResolvers: Resolvers = {
  Query: {
    jobRun: async (_, args, ctx) => {
      requireRole(ctx, 'reader');
      return getRun(ctx.app.db.prisma, args.id).catch(() => null);
    },
    jobRuns: (_, args, ctx) => {
      requireRole(ctx, 'reader');
      return domain(async () => {
        const first = pageSize(args.first);
        const cursor = decodeJobCursor(args.after);
        const filter = { ...(args.filter?.state ? { state: args.filter.state } : {}), ...(args.filter?.name ? { name: args.filter.name } : {}) };
        // Keyset on (createdAt, id), newest first: runs created while paging never shift a page.
        const after = cursor
          ? { OR: [{ createdAt: { lt: cursor.at } }, { createdAt: cursor.at, id: { lt: cursor.id } }] }
          : {};
        const rows = await ctx.app.db.prisma.jobRun.findMany({
          where: { ...filter, ...after },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          take: first + 1,
        });
        return toPage(rows, first, cursorOf);
      });
    },
  },
  Mutation: {
    runSelftest: async (_, args, ctx) => {
      requireRole(ctx, 'admin');
      return domain(() => ctx.app.queue.enqueue('system.selftest', { durationMs: args.durationMs ?? 200 }));
    },
  },
};

/** Job ids are uuids, so this cursor cannot reuse decodeCursor's numeric id check. */
function decodeJobCursor(raw: string | null | undefined): { at: Date; id: string } | null {
  if (!raw) return null;
  let c: { o?: string; v?: string; id?: string } | null = null;
  try {
    c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    c = null;
  }
  const at = c?.v ? new Date(c.v) : null;
  if (!c || c.o !== ORDER || !at || Number.isNaN(at.getTime()) || !/^[0-9a-f-]{36}$/i.test(c.id ?? '')) {
    throw badInput('invalid cursor for jobRuns', [{ field: 'after', message: 'is not a cursor returned by jobRuns' }]);
  }
  return { at, id: c.id! };
}
