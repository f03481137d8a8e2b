import crypto from 'node:crypto';
import type { App } from '../../src/app';
import type { JobState } from '../../src/generated/prisma/client';
import { SILENT_MS, claim, claimerStates, claimsOf } from '../../src/jobs/flows/flow-claims';
import { backend, openTestApp } from '../helpers/test-env';

/** The claims fan-out training divides its fits and tree chunks with (src/jobs/flows/flow-claims.ts). */
describe(`flow claims on ${backend}`, () => {
  let app: App;
  beforeAll(async () => {
    app = await openTestApp({}, { runJobs: false });
  }, 60_000);
  const made: string[] = [];
  afterAll(async () => {
    // Other files share this database: no stray runs left for their sweeps and counts.
    await app?.db.prisma.jobBlob.deleteMany({ where: { runId: { in: made } } });
    await app?.db.prisma.jobRun.deleteMany({ where: { id: { in: made } } });
    await app?.close();
  });

  // Created just now whatever the heartbeat: workers of other test files re-offer 'queued' runs older than 5 s.
  const run = async (state: JobState, heartbeatAgoMs: number): Promise<string> => {
    const id = crypto.randomUUID();
    made.push(id);
    await app.db.prisma.jobRun.create({ data: { id, name: 'test.flow-claims', payload: {}, state, heartbeatAt: new Date(Date.now() - heartbeatAgoMs) } });
    return id;
  };

  it('gives an item to the first claimer only, whoever asks later, and lists the owners', async () => {
    const flow = await run('running', 0);
    const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
    const owners = await Promise.all([claim(app.db.prisma, flow, 'claim:x:main:0', a), claim(app.db.prisma, flow, 'claim:x:main:0', b)]);
    expect(owners[0]).toBe(owners[1]);
    expect([a, b]).toContain(owners[0]);
    expect(await claim(app.db.prisma, flow, 'claim:x:main:0', a)).toBe(owners[0]);
    expect(await claim(app.db.prisma, flow, 'claim:x:main:1', b)).toBe(b);
    expect(await claimsOf(app.db.prisma, flow, 'claim:x:')).toEqual(new Map([['claim:x:main:0', owners[0]], ['claim:x:main:1', b]]));
    expect((await claimsOf(app.db.prisma, flow, 'claim:y:')).size).toBe(0);
  });

  it('tells a live claimer from one that finished, went silent, failed for good or never existed', async () => {
    const live = await run('running', 1000);
    const retrying = await run('queued', 5000);
    const silent = await run('running', SILENT_MS + 10_000);
    const done = await run('completed', 0);
    const failed = await run('failed', 0);
    const missing: string = crypto.randomUUID();
    const states = await claimerStates(app.db.prisma, [live, retrying, silent, done, failed, missing]);
    expect(Object.fromEntries([...states].map(([id, s]) => [[live, retrying, silent, done, failed, missing].indexOf(id), s]))).toEqual({
      0: 'working',
      1: 'working',
      2: 'gone',
      3: 'gone',
      4: 'failed',
      5: 'gone',
    });
  });
});
