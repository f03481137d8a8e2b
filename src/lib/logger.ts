import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The one logger. Paths below are redacted because ValueGraph holds customer data and API keys; at info level
 * nothing personal should be logged anyway, this is the safety net.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'valuegraph', ...bindings },
    redact: {
      paths: ['req.headers.authorization', 'authorization', 'apiKey', 'key', '*.text', '*.password'],
      censor: '[redacted]',
    },
  });
}

let root: Logger | undefined;

export function logger(): Logger {
  root ??= createLogger();
  return root;
}

export function setRootLogger(l: Logger): void {
  root = l;
}
