import { createApp } from './app';
import { logEmbeddingStatus } from './embeddings/embed.demo-stage';
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
  // Says at start-up whether semantic features are on, without delaying readiness (loading a model takes seconds).
  void logEmbeddingStatus(app).catch((err) => log.warn({ err: (err as Error).message }, 'embedding status check failed'));
  onShutdown(log, env.SHUTDOWN_TIMEOUT_MS + 5000, async () => {
    await http.close();
    await app.close();
  });
}

main().catch((err) => {
  process.stderr.write(`valuegraph: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
