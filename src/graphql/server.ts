import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { App } from '../app';
import { mountDashboard } from '../dashboard/dashboard.routes';
import { authenticate, type GqlContext } from './context';
import { formatError } from './errors';
import { MAX_BODY, MAX_TOKENS, queryGuards } from './guards';
import { requestIdOf, requestLog, unavailableStatus } from './request-log';
import { createLoaders } from './loaders';
import { resolverMaps } from './resolvers';

export function loadTypeDefs(): string {
  const dir = path.join(__dirname, 'schema');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort((a, b) => (a === 'base.graphql' ? -1 : b === 'base.graphql' ? 1 : a.localeCompare(b)))
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
}

export interface HttpServer {
  server: http.Server;
  listen(port: number, host: string): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
}

/** Express app with /graphql, /healthz, /readyz and /dashboard; no listen here so tests can pick a free port. */
export async function buildHttpServer(app: App): Promise<HttpServer> {
  const ex = express();
  ex.disable('x-powered-by');
  ex.use(requestLog(app.log));
  const server = http.createServer(ex);
  const apollo = new ApolloServer<GqlContext>({
    typeDefs: loadTypeDefs(),
    resolvers: resolverMaps,
    introspection: app.env.GRAPHQL_INTROSPECTION,
    includeStacktraceInErrorResponses: false,
    formatError: formatError(app.log),
    // One operation per request: a batch array would multiply every per-request limit.
    allowBatchedHttpRequests: false,
    parseOptions: { maxTokens: MAX_TOKENS },
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      queryGuards(),
      unavailableStatus(),
      ...(app.env.GRAPHQL_LANDING_PAGE ? [] : [ApolloServerPluginLandingPageDisabled()]),
    ],
  });
  await apollo.start();

  ex.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  ex.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    await app.db.ping().then(() => (checks.database = 'ok'), (e: Error) => (checks.database = e.message));
    await app.queue.ping().then(() => (checks.jobs = 'ok'), (e: Error) => (checks.jobs = e.message));
    const ok = Object.values(checks).every((v) => v === 'ok');
    res.status(ok ? 200 : 503).json({ ok, checks });
  });
  ex.use(
    '/graphql',
    express.json({ limit: MAX_BODY }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const requestId = requestIdOf(res);
        const apiKey = await authenticate(app, req.headers.authorization);
        return { app, apiKey, requestId, log: app.log.child({ requestId }), loaders: createLoaders(app.db.prisma) };
      },
    }),
  );
  const dashboard = mountDashboard(ex, app);
  ex.use(bodyErrors(app));

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const addr = server.address() as { port: number };
          resolve({ url: `http://${host}:${addr.port}/graphql`, port: addr.port });
        });
      }),
    async close() {
      await apollo.stop();
      await dashboard.close();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Body-parser failures (too large, invalid JSON, bad encoding) answered as GraphQL-shaped JSON with a clear code
 * instead of express's HTML error page; never a stack trace.
 */
function bodyErrors(app: App) {
  return (err: Error & { type?: string; status?: number; statusCode?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = err.status ?? err.statusCode ?? 500;
    const known: Record<string, [string, string]> = {
      'entity.too.large': ['PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${MAX_BODY}; send smaller batches`],
      'entity.parse.failed': ['INVALID_JSON', 'request body is not valid JSON'],
      'encoding.unsupported': ['UNSUPPORTED_ENCODING', 'unsupported content encoding'],
      'charset.unsupported': ['UNSUPPORTED_ENCODING', 'unsupported charset'],
      'request.aborted': ['BAD_REQUEST', 'request aborted'],
    };
    const [code, message] = known[err.type ?? ''] ?? (status >= 400 && status < 500 ? ['BAD_REQUEST', 'bad request'] : ['INTERNAL', 'Internal server error']);
    if (status >= 500) app.log.error({ err: err.message }, 'unexpected HTTP error');
    // Every client-side rejection is a 400 with its own code (issue 3's contract); the code tells them apart.
    res.status(status >= 400 && status < 500 ? 400 : 500).json({ errors: [{ message, extensions: { code } }] });
  };
}
