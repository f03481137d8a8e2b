import { materializeFeatures } from '../../src/features/feature-store.service';
import { REFRESH_DEDUPE_KEY } from '../../src/features/feature-refresh.enqueue';
import { DAY_MS } from '../../src/features/features.definitions';
import { ingestCustomers, ingestTransactions } from '../../src/ingest/ingest.service';
import type { InProcessQueue } from '../../src/jobs/inprocess.transport';
import { RETRAIN_SCHEDULER_ID, SCHEDULE_QUEUE, startBullSchedules } from '../../src/jobs/schedules';
import { createLogger } from '../../src/lib/logger';
import { catchUpMissedFire, enqueueScheduledRetrain, type RetrainConfig, startRetrainTimer } from '../../src/models/training/retrain-schedule';
import { Queue } from 'bullmq';
import { QUEUE_NAME, redisConnection } from '../../src/jobs/bullmq.transport';
import { gql, type Proc, spawnEntry } from '../helpers/processes';
import { startTestServer, type TestServer } from '../helpers/test-server';
import { backend, testEnv, uid } from '../helpers/test-env';

const NOW = Date.now();
const log = createLogger('silent');

describe(`automatic feature refresh, Customer.features and scheduled retraining (${backend})`, () => {
  let s: TestServer;
  let worker: Proc | undefined;
  const prefix = uid('fr');
  const ext = (i: number) => `${prefix}-${i}`;
  const N = 12;
  const prisma = () => s.app.db.prisma;
  const idOf = async (i: number) => (await prisma().customer.findUniqueOrThrow({ where: { externalId: ext(i) } })).id;

  beforeAll(async () => {
    // No job processing yet (PGlite: no dispatcher; PostgreSQL: no worker process): the tests decide when.
    s = await startTestServer({ runJobs: false });
    await ingestCustomers(prisma(), Array.from({ length: N }, (_, i) => ({ externalId: ext(i), region: 'north' })));
  }, 60_000);

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await s?.close();
  });

  describe('scheduled retraining', () => {
    const cfg: RetrainConfig = { cron: '* * * * * *', horizonDays: 30, options: { nEstimators: 5, score: false } };
    const scheduledRuns = async () =>
      (await prisma().jobRun.findMany({ where: { name: 'models.train' }, orderBy: { createdAt: 'asc' } })).filter((r) => (r.payload as { scheduledFor?: string }).scheduledFor);
    // Stand-in for a training that finishes at once, so every fire may create its run; nothing else runs them.
    const finishScheduled = async () => {
      for (const r of await scheduledRuns()) {
        if (r.state === 'queued') await prisma().jobRun.update({ where: { id: r.id }, data: { state: 'completed', finishedAt: new Date() } });
      }
    };

    it('replays the latest fire missed while down, once, and never for a schedule that has not fired yet', async () => {
      const hourly: RetrainConfig = { ...cfg, cron: '0 * * * *' };
      // Far in the future so that no other run of the shared database is later; cleaned up at the end.
      const t0 = new Date('2031-01-01T00:00:00.000Z');
      const down = new Date('2031-01-01T03:10:00.000Z'); // fires at 01:00, 02:00 and 03:00 were missed
      // First in this file: no scheduled run exists yet, as in a new installation — no training at once.
      expect(await scheduledRuns()).toEqual([]);
      expect(await catchUpMissedFire(prisma(), hourly, down)).toBeNull();
      const seeded = await enqueueScheduledRetrain(prisma(), t0, hourly);
      await finishScheduled();
      try {
        const r = await catchUpMissedFire(prisma(), hourly, down);
        expect(r?.created).toBe(true);
        expect((r!.run.payload as { scheduledFor: string; cutoff: string }).scheduledFor).toBe('2031-01-01T03:00:00.000Z');
        expect((r!.run.payload as { cutoff: string }).cutoff).toBe('2031-01-01T03:00:00.000Z');
        await finishScheduled();
        // A second start (another worker, a restart) within the same hour: nothing missed any more.
        expect(await catchUpMissedFire(prisma(), hourly, new Date('2031-01-01T03:40:00.000Z'))).toBeNull();
        // Exactly at a fire time, that fire counts as due.
        const atFire = await catchUpMissedFire(prisma(), hourly, new Date('2031-01-01T04:00:00.000Z'));
        expect((atFire!.run.payload as { scheduledFor: string }).scheduledFor).toBe('2031-01-01T04:00:00.000Z');
        await finishScheduled();
      } finally {
        // The future fires would hide later tests' fires from the catch-up: remove them.
        await prisma().jobRun.deleteMany({ where: { name: 'models.train', payload: { path: ['scheduledFor'], string_starts_with: '2031-' } } });
      }
      expect(seeded.created).toBe(true);
    }, 30_000);

    it('one run per fire, none while a training is active, cutoff = fire time', async () => {
      const fire = new Date(Math.floor(NOW / 1000) * 1000 - 3600_000);
      const [a, b] = await Promise.all([enqueueScheduledRetrain(prisma(), fire, cfg), enqueueScheduledRetrain(prisma(), fire, cfg)]);
      expect(b.run.id).toBe(a.run.id);
      expect([a.created, b.created].sort()).toEqual([false, true]);
      expect((a.run.payload as { cutoff: string }).cutoff).toBe(fire.toISOString());
      // While it is active, another fire is absorbed; after it finished, the same fire never makes a second run.
      const later = new Date(fire.getTime() + 1000);
      expect((await enqueueScheduledRetrain(prisma(), later, cfg)).reason).toBe('training already active');
      await finishScheduled();
      expect((await enqueueScheduledRetrain(prisma(), fire, cfg)).reason).toBe('fire already has a run');
      const next = await enqueueScheduledRetrain(prisma(), later, cfg);
      expect(next.created).toBe(true);
      await finishScheduled();
    }, 30_000);

    it('two schedulers firing every second create one run per fire and no duplicates', async () => {
      const before = new Set((await scheduledRuns()).map((r) => r.id));
      const stops: (() => Promise<void>)[] = [];
      const qPrefix = `${uid('sched').replace(/-/g, '')}`;
      if (backend === 'postgres') {
        // Two "worker processes": two schedulers upserted with one id, two consumers of the fires.
        for (let k = 0; k < 2; k++) {
          const h = await startBullSchedules({ prisma: prisma(), log, redisUrl: testEnv().REDIS_URL!, prefix: qPrefix, retrain: cfg });
          stops.push(() => h.close());
        }
      } else {
        for (let k = 0; k < 2; k++) {
          const t = startRetrainTimer({ prisma: prisma(), log, cfg });
          stops.push(async () => t.stop());
        }
      }
      const deadline = Date.now() + 60_000;
      let mine: Awaited<ReturnType<typeof scheduledRuns>> = [];
      while (Date.now() < deadline) {
        await finishScheduled();
        mine = (await scheduledRuns()).filter((r) => !before.has(r.id));
        if (mine.length >= 3) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const stop of stops) await stop();
      // A timer's enqueue already under way when it was stopped still lands: let it, then finish it too.
      if (backend !== 'postgres') await new Promise((r) => setTimeout(r, 1500));
      await finishScheduled();
      mine = (await scheduledRuns()).filter((r) => !before.has(r.id));
      expect(mine.length).toBeGreaterThanOrEqual(3);
      const fires = mine.map((r) => (r.payload as { scheduledFor: string }).scheduledFor);
      expect(new Set(fires).size).toBe(fires.length);
      for (const r of mine) {
        const p = r.payload as { scheduledFor: string; cutoff: string; horizonDays: number };
        expect(p.cutoff).toBe(p.scheduledFor);
        expect(Date.parse(p.scheduledFor) % 1000).toBe(0);
        expect(p.horizonDays).toBe(30);
      }
      if (backend === 'postgres') {
        const conn = redisConnection(testEnv().REDIS_URL!, false);
        const q = new Queue(SCHEDULE_QUEUE, { connection: conn, prefix: qPrefix });
        expect((await q.getJobSchedulers()).map((j) => j.key)).toEqual([RETRAIN_SCHEDULER_ID]);
        // Unset RETRAIN_CRON: the next worker start removes the scheduler.
        await (await startBullSchedules({ prisma: prisma(), log, redisUrl: testEnv().REDIS_URL!, prefix: qPrefix, retrain: null })).close();
        expect(await q.getJobSchedulers()).toEqual([]);
        await q.obliterate({ force: true });
        await q.close();
        const jobs = new Queue(QUEUE_NAME, { connection: conn, prefix: qPrefix });
        await jobs.obliterate({ force: true });
        await jobs.close();
      }
    }, 90_000);
  });

  describe('features', () => {
    it('Customer.features: stored snapshot through a DataLoader, computed for a past asOf', async () => {
      const txns = [];
      for (let i = 0; i < N; i++) {
        for (let d = 1; d <= 3; d++) txns.push({ externalId: `${ext(i)}-a${d}`, customerExternalId: ext(i), occurredAt: new Date(NOW - d * 20 * DAY_MS).toISOString(), amount: 10 * (i + 1) });
      }
      await ingestTransactions(prisma(), txns);
      await materializeFeatures(prisma(), { asOf: new Date(), current: true, customerIds: [await idOf(0)] });
      const asOf = new Date(NOW - 30 * DAY_MS).toISOString();
      const q = `query($a: String!, $b: String!, $asOf: DateTime) {
        a: customer(externalId: $a) { features { stored values } past: features(asOf: $asOf) { stored asOf values } }
        b: customer(externalId: $b) { features { stored values } }
      }`;
      const r = await gql(s.url, s.keys.reader, q, { a: ext(0), b: ext(1), asOf });
      expect(r.body.errors).toBeUndefined();
      const a = r.body.data.a;
      expect(a.features.stored).toBe(true);
      expect(a.features.values.orders).toBe(3);
      // As of 30 days ago only the purchases 40 and 60 days back existed.
      expect(a.past.stored).toBe(false);
      expect(a.past.asOf).toBe(asOf);
      expect(a.past.values.orders).toBe(2);
      // Never materialized: computed on the spot, still correct.
      expect(r.body.data.b.features).toMatchObject({ stored: false });
      expect(r.body.data.b.features.values.monetary_total).toBe(60);
      const anon = await gql(s.url, undefined, q, { a: ext(0), b: ext(1), asOf });
      expect(anon.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }, 60_000);

    it('ingest enqueues one debounced features.refresh for a burst, which refreshes every stale customer', async () => {
      for (let k = 0; k < 4; k++) {
        await ingestTransactions(prisma(), [{ externalId: `${ext(k)}-burst`, customerExternalId: ext(k), occurredAt: new Date(NOW - DAY_MS).toISOString(), amount: 1000 + k }]);
      }
      const pending = await prisma().jobRun.findMany({ where: { name: 'features.refresh', dedupeKey: REFRESH_DEDUPE_KEY, finishedAt: null } });
      expect(pending).toHaveLength(1);
      // A batch that changes nothing marks nobody stale and asks for nothing.
      const before = await prisma().jobRun.count({ where: { name: 'features.refresh' } });
      await ingestTransactions(prisma(), [{ externalId: `${ext(0)}-burst`, customerExternalId: ext(0), occurredAt: new Date(NOW - DAY_MS).toISOString(), amount: 1000 }]);
      expect(await prisma().jobRun.count({ where: { name: 'features.refresh' } })).toBe(before);

      if (backend === 'postgres') {
        worker = spawnEntry('jobs/worker.ts', testEnv({ FEATURE_REFRESH_DEBOUNCE_MS: '0' }).raw);
        await worker.waitForLog(/bullmq worker started/);
      } else {
        await (s.app.queue as InProcessQueue).start();
      }
      const ids = await Promise.all([0, 1, 2, 3].map(idOf));
      const deadline = Date.now() + 90_000;
      for (;;) {
        const stale = await prisma().customer.count({ where: { id: { in: ids }, featuresStaleAt: { not: null } } });
        if (stale === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const snaps = await prisma().featureSnapshot.findMany({ where: { customerId: { in: ids }, isCurrent: true } });
      expect(snaps).toHaveLength(4);
      for (const sn of snaps) expect((sn.values as Record<string, number>).monetary_max).toBeGreaterThanOrEqual(1000);
      const run = await prisma().jobRun.findUniqueOrThrow({ where: { id: pending[0]!.id } });
      expect(run.dedupeKey).toBeNull(); // released before it read the stale customers
    }, 150_000);
  });
});
