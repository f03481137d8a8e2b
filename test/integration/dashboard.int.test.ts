import fs from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { materializeFeatures } from '../../src/features/feature-store.service';
import { ingestComments, ingestCustomers, ingestTransactions } from '../../src/ingest/ingest.service';
import { MAX_BATCH } from '../../src/ingest/ingest.schemas';
import { generateSampleData } from '../../src/demo/sample-data';
import { scoreCustomers } from '../../src/models/scoring/score.service';
import { MODEL_KIND, trainModelVersion } from '../../src/models/training/train.service';
import { refreshBehaviorVectors } from '../../src/similarity/behavior-vectors.service';
import { createApiKey } from '../../src/auth/api-keys';
import { DASHBOARD_CSP } from '../../src/dashboard/dashboard.routes';
import { BOARD_COOKIE } from '../../src/dashboard/queue-board.routes';
import { gql } from '../helpers/processes';
import { colourStats, countColour, decodePng } from '../helpers/png';
import { backend, uid } from '../helpers/test-env';
import { type TestServer, startTestServer } from '../helpers/test-server';

/**
 * The dashboard in Debian's chromium (playwright-core, no bundled browser) against a small demo shop that went
 * through the real pipeline: ingest, features, training, two scoring runs (so there are transitions).
 */
const CHROMIUM = process.env.VG_CHROMIUM ?? '/usr/bin/chromium';
const SHOT_DIR = path.resolve(__dirname, '../.tmp');
const DAY = 86_400_000;
const fmtInt = (n: number) => new Intl.NumberFormat('en', { maximumFractionDigits: 0 }).format(n);

describe(`dashboard in a headless browser (${backend})`, () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let previousChampion: number | null = null;
  let versionId = 0;
  let customersScored = 0;
  const prefix = uid('dash');
  const consoleErrors: string[] = [];
  const foreignRequests: string[] = [];

  beforeAll(async () => {
    // runJobs: false: the pipeline below runs step by step in this process.
    server = await startTestServer({ runJobs: false, roles: ['reader', 'writer', 'admin'] });
    base = server.url.replace(/\/graphql$/, '');
    const db = server.app.db.prisma;
    previousChampion = (await db.modelChampion.findUnique({ where: { kind: MODEL_KIND } }))?.modelVersionId ?? null;

    const now = Date.now();
    const data = generateSampleData({ customers: 240, seed: 5, end: new Date(now - DAY) });
    const ext = (id: string) => `${prefix}-${id}`;
    const batches = async (rows: object[], fn: (p: typeof db, r: unknown[]) => Promise<unknown>) => {
      for (let i = 0; i < rows.length; i += MAX_BATCH) await fn(db, rows.slice(i, i + MAX_BATCH));
    };
    await batches(data.customers.map((c) => ({ ...c, externalId: ext(c.externalId) })), ingestCustomers);
    await batches(data.transactions.map((t) => ({ ...t, externalId: ext(t.externalId), customerExternalId: ext(t.customerExternalId) })), ingestTransactions);
    await batches(data.comments.map((c) => ({ ...c, externalId: ext(c.externalId), customerExternalId: ext(c.customerExternalId) })), ingestComments);
    // A run for the jobs panel. Nothing executes jobs in this file (no dispatcher, no worker), so it stays queued,
    // like the features.refresh the ingest requested: nothing re-scores behind the assertions' back.
    await gql(server.url, server.keys.admin, 'mutation { runSelftest(durationMs: 1) { id } }');
    await materializeFeatures(db, { asOf: new Date(now), current: true });
    await refreshBehaviorVectors(db, { full: true });
    const trained = await trainModelVersion(db, { horizonDays: 90, force: true, cutoff: new Date(now), forest: { nEstimators: 15, seed: 3 } }, { progress: () => {} });
    versionId = trained.modelVersionId;
    // Two full runs a month apart: recency moves customers between segments, so the transition matrix has data.
    await scoreCustomers(db, { modelVersionId: versionId, asOf: new Date(now - 30 * DAY) });
    customersScored = (await scoreCustomers(db, { modelVersionId: versionId, asOf: new Date(now) })).scored;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    const origin = new URL(base).origin;
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) return route.continue();
      foreignRequests.push(url);
      return route.abort();
    });
    page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (server) {
      const db = server.app.db.prisma;
      if (previousChampion) await db.modelChampion.update({ where: { kind: MODEL_KIND }, data: { modelVersionId: previousChampion } });
      else await db.modelChampion.deleteMany({ where: { kind: MODEL_KIND } });
      await server.close();
    }
  });

  it('serves the static shell without a key, with content types and a strict CSP, and nothing else', async () => {
    const index = await fetch(`${base}/dashboard`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = index.headers.get('content-security-policy')!;
    expect(csp).toBe(DASHBOARD_CSP);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/https?:\/\//); // no CDN
    expect((await fetch(`${base}/dashboard/app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/dashboard/style.css`)).headers.get('content-type')).toMatch(/^text\/css/);
    const etag = (await fetch(`${base}/dashboard/app.js`)).headers.get('etag')!;
    expect((await fetch(`${base}/dashboard/app.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    for (const p of ['/dashboard/dashboard.routes.ts', '/dashboard/..%2Fdashboard.routes.ts', '/dashboard/missing.js']) {
      expect([p, (await fetch(`${base}${p}`)).status]).toEqual([p, 404]);
    }
  });

  it('asks for a key, then renders every overview panel with data', async () => {
    await page.goto(`${base}/dashboard`);
    await page.locator('#key-form').waitFor();
    await page.fill('#api-key', server.keys.reader);
    await page.click('#key-form button[type=submit]');
    for (const id of ['clv-histogram', 'value-share', 'segments', 'transitions', 'models', 'jobs', 'top-customers']) {
      await page.locator(`#${id}[data-state]:not([data-state="loading"])`).waitFor({ timeout: 30_000 });
      expect([id, await page.getAttribute(`#${id}`, 'data-state')]).toEqual([id, 'ready']);
    }
    expect(await page.getAttribute('#kpis', 'data-state')).toBe('ready');
    expect(await page.textContent('#key-role')).toBe('reader key');
    expect(await page.evaluate("sessionStorage.getItem('valuegraph.apiKey')")).toBe(server.keys.reader);

    expect(await page.textContent('#kpi-customers .kpi__value')).toBe(fmtInt(customersScored));
    expect(await page.textContent('#kpi-champion .kpi__value')).toBe(`#${versionId} ${MODEL_KIND}`);
    expect(await page.textContent('#kpi-champion .kpi__note')).toMatch(/^Gini -?\d\.\d{3} on holdout$/);

    const bars = (sel: string) => page.locator(`${sel} svg rect.bar`).count();
    expect(await bars('#clv-histogram')).toBeGreaterThanOrEqual(10);
    expect(await bars('#value-share')).toBe(5);
    expect(await bars('#segments')).toBeGreaterThanOrEqual(4);
    expect(await bars('#calibration')).toBeGreaterThanOrEqual(20);

    // The concentration headline agrees with the scores in the database.
    const rows = await server.app.db.prisma.score.findMany({ where: { modelVersionId: versionId }, select: { clv: true, tier: true } });
    const total = rows.reduce((a, r) => a + Number(r.clv), 0);
    const top = rows.filter((r) => ['top_1', 'top_5', 'top_10'].includes(r.tier ?? '')).reduce((a, r) => a + Number(r.clv), 0);
    expect(await page.textContent('#value-share .headline')).toBe(`Top 10% of customers bring ${((top / total) * 100).toFixed(1)}% of predicted value.`);
    expect(await page.textContent('#kpi-top10 .kpi__value')).toBe(`${((top / total) * 100).toFixed(1)}%`);

    expect(await page.textContent('#transitions .headline')).toMatch(/^[\d,]+ of [\d,]+ customers changed segment \(run #\d+ → #\d+\)\.$/);
    expect(await page.locator('#transitions tbody td').count()).toBeGreaterThan(0);
    await page.selectOption('#transition-kind', 'RFM');
    await page.locator('#transitions tbody th', { hasText: 'champions' }).first().waitFor();

    expect(await page.locator('#models tbody tr').count()).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#calibration h3')).toBe(`Decile calibration · version #${versionId}`);
    expect(await page.inputValue('#calibration-model')).toBe('forest');
    await page.selectOption('#calibration-model', 'bgnbd_gg');
    expect(await page.getAttribute('#calibration svg', 'aria-label')).toMatch(/^Decile calibration of BG\/NBD \+ Gamma-Gamma in model version \d+/);
    await page.selectOption('#calibration-model', 'forest');
    expect(await page.locator('#jobs tbody tr', { hasText: 'system.selftest' }).count()).toBeGreaterThanOrEqual(1);
    // The jobs panel refreshes itself: a run enqueued now shows up without a reload.
    const selftests = await page.locator('#jobs tbody tr', { hasText: 'system.selftest' }).count();
    await gql(server.url, server.keys.admin, 'mutation { runSelftest(durationMs: 1) { id } }');
    // (A locator, not waitForFunction: the page's CSP forbids the eval that one uses.)
    await page.locator('#jobs tbody tr', { hasText: 'system.selftest' }).nth(selftests).waitFor({ timeout: 30_000 });
    // The BullMQ monitor is linked only when there is one.
    expect(await page.locator('#jobs a[href="/admin/queues"]').count()).toBe(backend === 'postgres' ? 1 : 0);
    expect(await page.locator('#top-customers tbody tr').count()).toBeGreaterThanOrEqual(1);

    fs.mkdirSync(SHOT_DIR, { recursive: true });
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: path.join(SHOT_DIR, 'dashboard.png') });
    await page.screenshot({ path: path.join(SHOT_DIR, 'dashboard-full.png'), fullPage: true });
  }, 90_000);

  it('the screenshot is a real rendering: right size, many colours, chart colours painted', () => {
    const img = decodePng(fs.readFileSync(path.join(SHOT_DIR, 'dashboard.png')));
    expect([img.width, img.height]).toEqual([1280, 800]);
    const { distinct, dominantShare } = colourStats(img);
    expect(distinct).toBeGreaterThan(60); // text anti-aliasing and charts; a blank or error page has a handful
    expect(dominantShare).toBeLessThan(0.8);
    // Fonts differ between machines; the chart fills do not: bars (accent blue) and the header (dark navy).
    expect(countColour(img, '#3563e9', 6)).toBeGreaterThan(4000);
    expect(countColour(img, '#141b2d', 6)).toBeGreaterThan(1280 * 20);
  });

  it('opens a customer page with score, explanation, history and similar customers', async () => {
    const best = await server.app.db.prisma.score.findFirstOrThrow({
      where: { modelVersionId: versionId, customer: { externalId: { startsWith: prefix } } },
      orderBy: { clv: 'desc' },
      include: { customer: true },
    });
    await page.fill('#search-input', best.customer.externalId);
    await page.press('#search-input', 'Enter');
    await page.locator('#customer-kpis[data-state="ready"]').waitFor();
    expect(await page.textContent('h1')).toBe(`Customer ${best.customer.externalId}`);
    const clv = new Intl.NumberFormat('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(Number(best.clv));
    expect(await page.locator('#customer-kpis .kpi__value').first().textContent()).toBe(clv);
    for (const id of ['explanation', 'spend-history', 'transactions', 'similar']) {
      await page.locator(`#${id}[data-state]:not([data-state="loading"])`).waitFor();
      expect([id, await page.getAttribute(`#${id}`, 'data-state')]).toEqual([id, 'ready']);
    }
    expect(await page.locator('#explanation svg rect.bar').count()).toBe((best.explanation as unknown[]).length);
    expect(await page.locator('#spend-history svg rect.bar').count()).toBeGreaterThan(0);
    const similar = page.locator('#similar tbody tr');
    expect(await similar.count()).toBeGreaterThanOrEqual(3);
    const neighbour = (await similar.first().locator('a').textContent())!;
    expect(neighbour).not.toBe(best.customer.externalId);
    await page.screenshot({ path: path.join(SHOT_DIR, 'dashboard-customer.png'), fullPage: true });

    await similar.first().locator('a').click();
    await page.locator('h1', { hasText: neighbour }).waitFor();
    await page.locator('#customer-kpis[data-state="ready"]').waitFor();
  }, 60_000);

  it('says so when a customer does not exist', async () => {
    await page.fill('#search-input', `${prefix}-nobody`);
    await page.press('#search-input', 'Enter');
    await page.locator('#customer-kpis[data-state="missing"]').waitFor();
    expect(await page.textContent('#customer-kpis')).toContain('No customer with external id');
  });

  it('made no requests off the server and logged no errors', () => {
    expect(foreignRequests).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('shows "not available" in a panel whose query the server lacks, and the rest of the page still works', async () => {
    const older = await context.newPage();
    // An older API without clvHistogram answers like Apollo does for an unknown field.
    await older.route('**/graphql', async (route) => {
      if (!(route.request().postData() ?? '').includes('clvHistogram')) return route.continue();
      await route.fulfill({
        status: 400,
        contentType: 'application/json',
        body: JSON.stringify({ errors: [{ message: 'Cannot query field "clvHistogram" on type "Query".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] }),
      });
    });
    await older.goto(`${base}/dashboard`);
    await older.fill('#api-key', server.keys.reader);
    await older.click('#key-form button[type=submit]');
    await older.locator('#clv-histogram[data-state="unavailable"]').waitFor();
    expect(await older.textContent('#clv-histogram .notice')).toMatch(/^Not available on this server/);
    await older.locator('#value-share[data-state="ready"]').waitFor();
    await older.locator('#models[data-state="ready"]').waitFor();
    await older.close();
  });

  it('drops a revoked key and asks for another', async () => {
    const temp = await createApiKey(server.app.db.prisma, { name: 'dash-temp', role: 'reader' });
    await page.evaluate(`sessionStorage.setItem('valuegraph.apiKey', ${JSON.stringify(temp.key)})`);
    await server.app.db.prisma.apiKey.update({ where: { id: temp.record.id }, data: { revokedAt: new Date() } });
    await page.goto(`${base}/dashboard#/`);
    await page.locator('#key-form [role="alert"]').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('valuegraph.apiKey')")).toBeNull();
  });

  it(backend === 'postgres' ? 'guards the BullMQ job monitor with an admin key' : 'has no job monitor without Redis', async () => {
    const board = `${base}/admin/queues`;
    if (backend !== 'postgres') {
      expect((await fetch(`${board}/`, { headers: { authorization: `Bearer ${server.keys.admin}` } })).status).toBe(404);
      return;
    }
    expect((await fetch(`${board}/api/queues`)).status).toBe(401);
    expect((await fetch(`${board}/`, { redirect: 'manual', headers: { accept: 'text/html' } })).headers.get('location')).toBe(`/admin/queues/login`);
    expect((await fetch(`${board}/api/queues`, { headers: { authorization: `Bearer ${server.keys.reader}` } })).status).toBe(403);
    const api = await fetch(`${board}/api/queues`, { headers: { authorization: `Bearer ${server.keys.admin}` } });
    expect(api.status).toBe(200);
    expect(((await api.json()) as { queues: { name: string }[] }).queues.map((q) => q.name)).toEqual(['jobs']);
    // The form exchanges the key for an HttpOnly cookie scoped to the monitor; a wrong key gets none.
    const bad = await fetch(`${board}/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ key: server.keys.writer }) });
    expect(bad.status).toBe(403);
    expect(bad.headers.get('set-cookie')).toBeNull();
    const login = await fetch(`${board}/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ key: server.keys.admin }) });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(new RegExp(`^${BOARD_COOKIE}=.+; Path=/admin/queues; HttpOnly; SameSite=Strict`));
    const ui = await fetch(`${board}/`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('ValueGraph jobs');

    // And in the browser: the sign-in form, then bull-board's UI under its CSP, offline.
    const monitor = await context.newPage();
    const errors: string[] = [];
    monitor.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    monitor.on('pageerror', (e) => errors.push(e.message));
    await monitor.goto(board);
    expect(new URL(monitor.url()).pathname).toBe('/admin/queues/login');
    await monitor.fill('#key', server.keys.admin);
    await monitor.click('button[type=submit]');
    await monitor.getByText('ValueGraph jobs').first().waitFor();
    await monitor.locator('a[href*="/queue/jobs"]').first().waitFor();
    await monitor.screenshot({ path: path.join(SHOT_DIR, 'job-monitor.png') });
    expect(errors).toEqual([]);
    await monitor.close();
  }, 60_000);
});
