import type { App } from '../../src/app';
import { DomainError } from '../../src/lib/errors';
import { waitForRun } from '../../src/jobs/wait';
import { type Proc, spawnEntry } from '../helpers/processes';
import { backend, openTestApp, testEnv, uid } from '../helpers/test-env';

/** The same job contract on both transports: in-process threads (PGlite) and BullMQ + a worker process. */
describe(`jobs on ${backend === 'postgres' ? 'BullMQ + worker process' : 'in-process worker threads'}`, () => {
  let app: App;
  let worker: Proc | undefined;

  beforeAll(async () => {
    app = await openTestApp();
    if (backend === 'postgres') {
      worker = spawnEntry('jobs/worker.ts', testEnv().raw);
      await worker.waitForLog(/bullmq worker started/);
    }
  }, 60_000);

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await app?.close();
  });

  const wait = (id: string) => waitForRun(app.db.prisma, id, { timeoutMs: 60_000 });

  it('runs a job off the main thread with database access and records result and progress', async () => {
    await app.db.prisma.customer.create({ data: { externalId: uid('job') } });
    const run = await app.queue.enqueue('system.selftest', { durationMs: 300 });
    expect(run.state).toBe('queued');
    const done = await wait(run.id);
    expect(done.state).toBe('completed');
    expect(done.progress).toBe(1);
    expect(done.attempts).toBe(1);
    const result = done.result as { primes: number; customers: number };
    expect(result.primes).toBeGreaterThan(0);
    expect(result.customers).toBeGreaterThanOrEqual(1);
    expect(done.startedAt!.getTime()).toBeLessThanOrEqual(done.finishedAt!.getTime());
  }, 90_000);

  it('retries a failed attempt and completes', async () => {
    const run = await app.queue.enqueue('system.selftest', { durationMs: 10, failAttempts: 1 });
    const done = await wait(run.id);
    expect(done.state).toBe('completed');
    expect((done.result as { attempt: number }).attempt).toBe(2);
  }, 90_000);

  it('fails for good when attempts are exhausted, with the error kept', async () => {
    const run = await app.queue.enqueue('system.selftest', { durationMs: 10, failAttempts: 5 }, { maxAttempts: 2 });
    const done = await wait(run.id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/planned failure on attempt 2/);
    expect(done.finishedAt).not.toBeNull();
  }, 90_000);

  it('deduplicates concurrent enqueues with one key while a run is active', async () => {
    const key = uid('dedupe');
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => app.queue.enqueue('system.selftest', { durationMs: 500 }, { dedupeKey: key })));
    expect(new Set([a!.id, b!.id, c!.id]).size).toBe(1);
    await wait(a!.id);
    const again = await app.queue.enqueue('system.selftest', { durationMs: 10 }, { dedupeKey: key });
    expect(again.id).not.toBe(a!.id);
    await wait(again.id);
  }, 90_000);

  it('rejects an invalid payload naming the field, without creating a run', async () => {
    const before = await app.db.prisma.jobRun.count();
    const err = await app.queue.enqueue('system.selftest', { durationMs: -5 }).catch((e) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('BAD_USER_INPUT');
    expect(err.details.issues[0].field).toBe('durationMs');
    await expect(app.queue.enqueue('no.such.job', {})).rejects.toThrow(/unknown job/);
    expect(await app.db.prisma.jobRun.count()).toBe(before);
  });
});

/** PostgreSQL without Redis: the in-process transport, its threads connecting to PostgreSQL themselves. */
if (backend === 'postgres') {
  describe('in-process worker threads on PostgreSQL (no Redis)', () => {
    it('runs a job with its own connection from the thread', async () => {
      const app = await openTestApp({ REDIS_URL: '' });
      try {
        expect(app.queue.kind).toBe('in-process');
        const run = await app.queue.enqueue('system.selftest', { durationMs: 100 });
        const done = await waitForRun(app.db.prisma, run.id, { timeoutMs: 60_000 });
        expect(done.state).toBe('completed');
        expect((done.result as { customers: number }).customers).toBeGreaterThanOrEqual(0);
      } finally {
        await app.close();
      }
    }, 90_000);
  });
}
