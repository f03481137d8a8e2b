import type { GqlContext } from '../context';

const VERSION = (require('../../../package.json') as { version: string }).version;

export const healthResolvers = {
  Query: {
    health: (_: unknown, __: unknown, ctx: GqlContext) => ({
      ok: true,
      database: ctx.app.db.backend,
      jobs: ctx.app.queue.kind,
      version: VERSION,
    }),
  },
};
