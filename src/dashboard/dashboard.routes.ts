import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Express, Request, Response } from 'express';
import type { App } from '../app';
import { mountQueueBoard } from './queue-board.routes';

/**
 * The dashboard's static shell: a handful of files read once at start-up and served from memory. The shell holds
 * no data and needs no key; every number comes from /graphql with the key the person pastes into the page.
 */
export const STATIC_DIR = path.join(__dirname, 'static');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Self only, nothing inline: the scripts are modules from this origin and styles come from style.css. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Whitelist of servable files by name: request paths are looked up, never joined onto the file system. */
export function loadAssets(dir = STATIC_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of fs.readdirSync(dir)) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (!type) continue;
    const body = fs.readFileSync(path.join(dir, name));
    assets.set(name, { body, type, etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  if (!assets.has('index.html')) throw new Error(`dashboard assets missing: no index.html in ${dir}`);
  return assets;
}

function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  // Revalidate every time (ETag makes that a 304): a new deploy is picked up on the next reload.
  res.setHeader('Cache-Control', 'no-cache');
}

export interface DashboardMount {
  close(): Promise<void>;
}

/** GET /dashboard (and its assets under /dashboard/), plus the BullMQ monitor at /admin/queues when REDIS_URL is set. */
export function mountDashboard(ex: Express, app: App): DashboardMount {
  const assets = loadAssets();
  const send = (name: string) => (req: Request, res: Response) => {
    securityHeaders(res);
    const asset = assets.get(name);
    if (!asset) {
      res.status(404).type('text/plain').send('not found');
      return;
    }
    res.setHeader('ETag', asset.etag);
    if (req.headers['if-none-match'] === asset.etag) {
      res.status(304).end();
      return;
    }
    res.status(200).type(asset.type).send(asset.body);
  };
  ex.get('/dashboard', send('index.html'));
  ex.get('/dashboard/', send('index.html'));
  ex.get('/dashboard/:file', (req, res) => send(String(req.params.file))(req, res));
  const board = app.env.REDIS_URL ? mountQueueBoard(ex, app, app.env.REDIS_URL) : null;
  return { close: async () => board?.close() };
}
