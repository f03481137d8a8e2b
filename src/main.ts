import { createApp } from './app';
import { loadEnvOrExit } from './config/env';
import { buildHttpServer } from './graphql/server';
import { createLogger, setRootLogger } from './lib/logger';
import { onShutdown } from './lib/shutdown';

/** API entrypoint: applies migrations, runs in-process jobs when there is no Redis, serves GraphQL. */
async function main() {
  const env = loadEnvOrExit();
  const log = createLogger(env.LOG_LEVEL);
  setRootLogger(log);
  const app = await createApp(env, log, { migrate: true, runJobs: true });
  const http = await buildHttpServer(app);
  const { url } = await http.listen(env.PORT, env.HOST);
  log.info({ url }, 'GraphQL API listening');
  onShutdown(log, env.SHUTDOWN_TIMEOUT_MS + 5000, async () => {
    await http.close();
    await app.close();
  });
}

main().catch((err) => {
  process.stderr.write(`valuegraph: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
