import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { App } from '../app';
import { authenticate, type GqlContext } from './context';
import { formatError } from './errors';
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

/** Express app with /graphql, /healthz and /readyz; no listen here so tests can pick a free port. */
export async function buildHttpServer(app: App): Promise<HttpServer> {
  const ex = express();
  ex.disable('x-powered-by');
  const server = http.createServer(ex);
  const apollo = new ApolloServer<GqlContext>({
    typeDefs: loadTypeDefs(),
    resolvers: resolverMaps,
    introspection: app.env.GRAPHQL_INTROSPECTION,
    includeStacktraceInErrorResponses: false,
    formatError: formatError(app.log),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
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
    express.json({ limit: '8mb' }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const requestId = (req.headers['x-request-id'] as string | undefined) ?? crypto.randomUUID();
        return { app, apiKey: await authenticate(app, req.headers.authorization), requestId };
      },
    }),
  );

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
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
