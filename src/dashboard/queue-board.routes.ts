import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { App } from '../app';
import { roleAllows, verifyApiKey } from '../auth/api-keys';
import { QUEUE_NAME, redisConnection } from '../jobs/bullmq.transport';

export const BOARD_PATH = '/admin/queues';
export const BOARD_COOKIE = 'vg_board';

/**
 * bull-board for admins. Access needs an admin API key, either as `Authorization: Bearer <key>` (scripts, curl)
 * or through the login form, which puts the key in an HttpOnly, SameSite=Strict cookie scoped to this path
 * (a browser cannot add a header to a page load). The key is re-verified on every request, so revoking it ends
 * the session at once. Keys never travel in URLs: they would end up in logs and browser history.
 */
const BOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // bull-board's React UI sets inline styles; its Google Fonts link is blocked here (works offline).
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

type Access = 'admin' | 'forbidden' | 'anonymous';

async function accessOf(app: App, presented: string | undefined): Promise<Access> {
  if (!presented) return 'anonymous';
  const key = await verifyApiKey(app.db.prisma, presented);
  if (!key) return 'anonymous';
  return roleAllows(key.role, 'admin') ? 'admin' : 'forbidden';
}

function loginPage(message: string | null): string {
  const note = message ? `<p class="board-login__error" role="alert">${message}</p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ValueGraph job monitor: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/dashboard/style.css"></head>
<body class="board-login"><main><h1>Job monitor</h1><p>BullMQ queues (bull-board). Admins only.</p>${note}
<form method="post" action="${BOARD_PATH}/login"><label for="key">Admin API key</label>
<input id="key" name="key" type="password" autocomplete="off" required><button type="submit">Sign in</button></form>
<p><a href="/dashboard">Back to the dashboard</a></p></main></body></html>`;
}

/**
 * bull-board's page links IBM Plex from Google Fonts. The CSP would block it anyway (with a console error); dropping
 * the tag keeps the monitor quiet and offline, and the UI falls back to system fonts.
 */
function offlinePage(_req: Request, res: Response, next: NextFunction): void {
  const send = res.send.bind(res);
  res.send = (body?: unknown) => send(typeof body === 'string' ? body.replace(/<link[^>]+https:\/\/fonts\.(googleapis|gstatic)\.com[^>]*>/g, '') : body);
  next();
}

export function mountQueueBoard(ex: Express, app: App, redisUrl: string): { close(): Promise<void> } {
  const queue = new Queue(QUEUE_NAME, { connection: redisConnection(redisUrl, false), prefix: app.env.QUEUE_PREFIX });
  queue.on('error', (err) => app.log.warn({ err: err.message }, 'job monitor: redis error'));
  const adapter = new ExpressAdapter();
  adapter.setBasePath(BOARD_PATH);
  createBullBoard({ queues: [new BullMQAdapter(queue)], serverAdapter: adapter, options: { uiConfig: { boardTitle: 'ValueGraph jobs' } } });

  const headers = (res: Response) => {
    res.setHeader('Content-Security-Policy', BOARD_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
  };
  const cookieAttrs = (req: Request) => `Path=${BOARD_PATH}; HttpOnly; SameSite=Strict${req.secure ? '; Secure' : ''}`;

  ex.get(`${BOARD_PATH}/login`, (_req, res) => {
    headers(res);
    res.type('html').send(loginPage(null));
  });
  ex.post(`${BOARD_PATH}/login`, express.urlencoded({ extended: false, limit: '4kb' }), async (req, res, next) => {
    try {
      headers(res);
      const key = typeof req.body?.key === 'string' ? req.body.key.trim() : '';
      const access = await accessOf(app, key);
      if (access !== 'admin') {
        res.status(access === 'forbidden' ? 403 : 401).type('html').send(loginPage(access === 'forbidden' ? 'That key is not an admin key.' : 'Unknown or revoked key.'));
        return;
      }
      res.setHeader('Set-Cookie', `${BOARD_COOKIE}=${encodeURIComponent(key)}; ${cookieAttrs(req)}; Max-Age=43200`);
      res.redirect(303, `${BOARD_PATH}/`);
    } catch (err) {
      next(err);
    }
  });
  ex.post(`${BOARD_PATH}/logout`, (req, res) => {
    headers(res);
    res.setHeader('Set-Cookie', `${BOARD_COOKIE}=; ${cookieAttrs(req)}; Max-Age=0`);
    res.redirect(303, `${BOARD_PATH}/login`);
  });
  const guard = async (req: Request, res: Response, next: NextFunction) => {
    try {
      headers(res);
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const access = await accessOf(app, bearer ?? readCookie(req.headers.cookie, BOARD_COOKIE));
      if (access === 'admin') return next();
      if (access === 'forbidden') return void res.status(403).json({ error: 'the job monitor needs an admin API key' });
      if (req.accepts(['json', 'html']) === 'html') return void res.redirect(303, `${BOARD_PATH}/login`);
      res.status(401).json({ error: 'missing or invalid admin API key' });
    } catch (err) {
      next(err);
    }
  };
  ex.use(BOARD_PATH, guard, offlinePage, adapter.getRouter());
  return { close: () => queue.close() };
}
