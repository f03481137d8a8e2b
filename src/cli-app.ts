import { type App, createApp } from './app';
import { type Env, loadEnvOrExit } from './config/env';
import { createLogger, setRootLogger } from './lib/logger';

export type WithAppOptions = { runJobs?: boolean; migrate?: boolean };

/**
 * Opens the app for one CLI command and closes it afterwards. Opening applies migrations, like the API (workers
 * never do). CLI output is for people: logs, the job threads' included, only from warnings unless LOG_LEVEL says.
 */
export async function withApp<T>(fn: (app: App) => Promise<T>, opts: WithAppOptions = {}): Promise<T> {
  const env: Env = { ...loadEnvOrExit(), LOG_LEVEL: (process.env.LOG_LEVEL ?? 'warn') as Env['LOG_LEVEL'] };
  const log = createLogger(env.LOG_LEVEL);
  setRootLogger(log);
  const app = await createApp(env, log, { migrate: opts.migrate ?? true, runJobs: opts.runJobs ?? false });
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}
