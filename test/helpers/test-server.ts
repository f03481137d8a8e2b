import type { App } from '../../src/app';
import { createApiKey } from '../../src/auth/api-keys';
import type { ApiKeyRole } from '../../src/generated/prisma/client';
import { buildHttpServer } from '../../src/graphql/server';
import { openTestApp } from './test-env';

export interface TestServer {
  app: App;
  url: string;
  /** One API key per requested role, named after the role. */
  keys: Record<ApiKeyRole, string>;
  close(): Promise<void>;
}

/** The real HTTP server on a free loopback port, over a fresh test app, with a key for each role. */
export async function startTestServer(
  opts: { overrides?: Record<string, string>; runJobs?: boolean; roles?: ApiKeyRole[] } = {},
): Promise<TestServer> {
  const app = await openTestApp(opts.overrides ?? {}, { runJobs: opts.runJobs ?? false });
  const keys = {} as Record<ApiKeyRole, string>;
  for (const role of opts.roles ?? ['reader', 'writer', 'admin']) keys[role] = (await createApiKey(app.db.prisma, { name: role, role })).key;
  const http = await buildHttpServer(app);
  const { url } = await http.listen(0, '127.0.0.1');
  return {
    app,
    url,
    keys,
    async close() {
      await http.close();
      await app.close();
    },
  };
}
