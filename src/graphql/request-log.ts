import crypto from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../lib/logger';
import { isDatabaseUnavailable } from './errors';

/** A caller's id is kept only when it is short and plain: it ends up in every log line of the request. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(res: Response): string {
  return String(res.locals.requestId);
}

/**
 * Gives every HTTP request an id (the caller's x-request-id when safe, else a UUID), echoes it in the response
 * header and logs one structured line when the response is sent: method, path, status and duration; never the
 * body or the headers (customer data, API keys), so info-level logs stay free of personal data.
 */
export function requestLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && SAFE_ID.test(given) ? given : crypto.randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('x-request-id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // Never the query string: a GET request carries the query and its variables there.
      const path = req.originalUrl.split('?')[0];
      const line = { requestId, method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 };
      if (res.statusCode >= 500) log.warn(line, 'request failed');
      // Probes come every few seconds from load balancers: only their failures are worth an info line.
      else if ((path === '/healthz' || path === '/readyz') && res.statusCode < 400) log.debug(line, 'request');
      else log.info(line, 'request');
    });
    next();
  };
}

/**
 * A resolver that failed because the database is unreachable answers 503 (retry later) instead of 200 with an
 * error entry: load balancers and clients then treat it like any other temporary outage.
 */
export function unavailableStatus(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors(ctx) {
          if (ctx.errors.some((e) => isDatabaseUnavailable(e.originalError))) ctx.response.http.status = 503;
        },
      };
    },
  };
}
