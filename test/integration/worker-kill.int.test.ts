import { createApiKey } from '../../src/auth/api-keys';
import { waitForRun } from '../../src/jobs/wait';
import { type Proc, gql, spawnEntry } from '../helpers/processes';
import { backend, openTestApp, testEnv } from '../helpers/test-env';

/** Each backend has its own kill scenario; the other backend's block is not registered at all (never skipped). */
const describeOn = (b: typeof backend) => (backend === b ? describe : (_n: string, _f: () => void) => undefined);

const RUN = `mutation { runSelftest(durationMs: 6000) { id state } }`;
const STATUS = `query($id: ID!) { jobRun(id: $id) { id state attempts progress error result } }`;

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SIGKILL whatever is running a job: the run must be picked up again (never lost, never stuck running). */
describeOn('postgres')('killing a BullMQ worker process mid-job', () => {
  it('lets another worker finish the run', async () => {
    const app = await openTestApp({}, { runJobs: false });
    // A short lock so BullMQ notices the dead worker quickly.
    const env = testEnv({ JOB_LOCK_MS: '3000' }).raw;
    const procs: Proc[] = [];
    try {
      const a = spawnEntry('jobs/worker.ts', env);
      procs.push(a);
      await a.waitForLog(/bullmq worker started/);
      const run = await app.queue.enqueue('system.selftest', { durationMs: 6000 });
      await poll(() => app.db.prisma.jobRun.findUniqueOrThrow({ where: { id: run.id } }), (r) => r.state === 'running' && r.progress > 0);
      await a.kill('SIGKILL');
      const b = spawnEntry('jobs/worker.ts', env);
      procs.push(b);
      const done = await waitForRun(app.db.prisma, run.id, { timeoutMs: 90_000 });
      expect(done.state).toBe('completed');
      expect(done.attempts).toBeGreaterThanOrEqual(2);
      // SIGTERM lets a running job finish before the process exits.
      const run2 = await app.queue.enqueue('system.selftest', { durationMs: 2500 });
      await poll(() => app.db.prisma.jobRun.findUniqueOrThrow({ where: { id: run2.id } }), (r) => r.state === 'running');
      expect(await b.kill('SIGTERM')).toBe(0);
      expect((await app.db.prisma.jobRun.findUniqueOrThrow({ where: { id: run2.id } })).state).toBe('completed');
    } finally {
      await Promise.all(procs.map((p) => p.kill('SIGKILL')));
      await app.close();
    }
  }, 180_000);
});

describeOn('pglite')('killing the API process (in-process jobs) mid-job', () => {
  it('resumes the run when the API starts again, and SIGTERM releases a run for the next start', async () => {
    const env = testEnv({ PORT: '0', SHUTDOWN_TIMEOUT_MS: '500' }).raw;
    const setup = await openTestApp({ DATA_DIR: env.DATA_DIR! }, { runJobs: false });
    const { key } = await createApiKey(setup.db.prisma, { name: 'kill test', role: 'admin' });
    await setup.close();
    const start = async () => {
      const p = spawnEntry('src/main.ts', env);
      const rec = await p.waitForLog(/GraphQL API listening/);
      return { p, url: String(rec.url) };
    };
    let api = await start();
    try {
      const queued = await gql(api.url, key, RUN);
      const id = queued.body.data.runSelftest.id as string;
      await poll(() => gql(api.url, key, STATUS, { id }), (r) => r.body.data?.jobRun?.state === 'running' && r.body.data.jobRun.progress > 0);
      await api.p.kill('SIGKILL');
      api = await start();
      const done = await poll(() => gql(api.url, key, STATUS, { id }), (r) => ['completed', 'failed'].includes(r.body.data?.jobRun?.state), 60_000);
      expect(done.body.data.jobRun).toMatchObject({ state: 'completed', attempts: 2 });

      const second = await gql(api.url, key, RUN);
      const id2 = second.body.data.runSelftest.id as string;
      await poll(() => gql(api.url, key, STATUS, { id: id2 }), (r) => r.body.data?.jobRun?.state === 'running');
      await api.p.kill('SIGTERM');
      expect(await api.p.exited).toBe(0);
      api = await start();
      const done2 = await poll(() => gql(api.url, key, STATUS, { id: id2 }), (r) => r.body.data?.jobRun?.state === 'completed', 60_000);
      expect(done2.body.data.jobRun.attempts).toBe(1);
    } finally {
      await api.p.kill('SIGKILL');
    }
  }, 180_000);
});
