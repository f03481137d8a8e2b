import type { Logger } from './logger';

/**
 * SIGTERM/SIGINT: run the cleanup once (finish or release jobs, close pools), then exit. A second signal or
 * the deadline exits at once so an orchestrator is never left waiting.
 */
export function onShutdown(log: Logger, deadlineMs: number, cleanup: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown deadline passed: exiting');
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    cleanup().then(
      () => {
        log.info('shutdown complete');
        process.exit(0);
      },
      (err) => {
        log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
