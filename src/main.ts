import { createApp } from './app';
import { logEmbeddingStatus } from './embeddings/embed.demo-stage';
import { loadEnvOrExit } from './config/env';
import { buildHttpServer } from './graphql/server';
import { createLogger, setRootLogger } from './lib/logger';
import { onShutdown } from './lib/shutdown';
import { retrainConfigFromEnv, startRetrainTimer, validateRetrainConfig } from './models/training/retrain-schedule';

/** API entrypoint: applies migrations, runs in-process jobs when there is no Redis, serves GraphQL. */
async function main() {
  const env = loadEnvOrExit();
  const log = createLogger(env.LOG_LEVEL);
  setRootLogger(log);
  const retrain = retrainConfigFromEnv(env);
  if (retrain) validateRetrainConfig(retrain);
  const app = await createApp(env, log, { migrate: true, runJobs: true });
  // Without Redis this process runs the jobs, so it also fires scheduled retraining (BullMQ: the workers do).
  const schedule = retrain && app.queue.kind === 'in-process' ? startRetrainTimer({ prisma: app.db.prisma, log, cfg: retrain }) : null;
  const http = await buildHttpServer(app);
  const { url } = await http.listen(env.PORT, env.HOST);
  log.info({ url }, 'GraphQL API listening');
  // Says at start-up whether semantic features are on, without delaying readiness (loading a model takes seconds).
  void logEmbeddingStatus(app).catch((err) => log.warn({ err: (err as Error).message }, 'embedding status check failed'));
  onShutdown(log, env.SHUTDOWN_TIMEOUT_MS + 5000, async () => {
    schedule?.stop();
    await http.close();
    await app.close();
  });
}

main().catch((err) => {
  process.stderr.write(`valuegraph: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
