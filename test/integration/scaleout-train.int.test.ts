import type { App } from '../../src/app';
import { DAY_MS } from '../../src/features/features.definitions';
import type { JobRun } from '../../src/generated/prisma/client';
import { ingestCustomers, ingestTransactions } from '../../src/ingest/ingest.service';
import { flowRunId } from '../../src/jobs/flows/flow';
import { completeScoreFlow } from '../../src/jobs/flows/score.flow';
import { TRAIN_DEDUPE_KEY } from '../../src/jobs/handlers/train-model.job';
import { waitForRun } from '../../src/jobs/wait';
import { TIERS } from '../../src/models/scoring/tiers';
import { MODEL_KIND } from '../../src/models/training/train.service';
import { completeScoringRun, segmentScoringRange, startScoringRun } from '../../src/segments/scoring-runs.service';
import { type Proc, spawnEntry } from '../helpers/processes';
import { backend, openTestApp, testEnv, uid } from '../helpers/test-env';

/** Fan-out needs BullMQ; on PGlite only the fallback is registered (never skipped). */
const describeOn = (b: typeof backend) => (backend === b ? describe : (_n: string, _f: () => void) => undefined);

const NOW = Date.now();
const N = 200;
const CUTOFF = new Date(NOW - DAY_MS).toISOString();

async function seed(app: App): Promise<void> {
  const prefix = uid('fan');
  await ingestCustomers(app.db.prisma, Array.from({ length: N }, (_, i) => ({ externalId: `${prefix}-${i}`, region: i % 3 ? 'north' : 'south' })));
  const txns = [];
  for (let i = 0; i < N; i++) {
    const every = 9 + (i % 37);
    for (let d = 380; d > (i % 5 === 0 ? 180 : 0); d -= every) {
      txns.push({ externalId: `${prefix}-${i}-t${d}`, customerExternalId: `${prefix}-${i}`, occurredAt: new Date(NOW - d * DAY_MS).toISOString(), amount: 15 + (i % 13) * 7 + (d % 5) });
    }
  }
  for (let i = 0; i < txns.length; i += 2000) await ingestTransactions(app.db.prisma, txns.slice(i, i + 2000));
}

const champion = async (app: App) => (await app.db.prisma.modelChampion.findUnique({ where: { kind: MODEL_KIND } }))?.modelVersionId ?? null;
const children = (app: App, runId: string) =>
  app.db.prisma.jobRun.findMany({ where: { name: 'models.train-trees', payload: { path: ['trainRunId'], equals: runId } }, orderBy: { createdAt: 'asc' } });

describeOn('postgres')('training fan-out over 3 BullMQ worker processes', () => {
  let app: App;
  const procs: Proc[] = [];
  let previous: number | null = null;
  // A short lock so a killed worker's child is handed on quickly; one job per worker so shares spread out.
  const env = testEnv({ JOB_LOCK_MS: '3000', JOB_CONCURRENCY: '1' }).raw;
  const startWorker = async () => {
    const p = spawnEntry('jobs/worker.ts', env);
    procs.push(p);
    await p.waitForLog(/bullmq worker started/);
    return p;
  };
  const train = (options: Record<string, unknown>) =>
    app.queue.enqueue('models.train', { horizonDays: 60, cutoff: CUTOFF, options: { force: true, score: false, nEstimators: 12, maxDepth: 8, ...options } }, { dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts: 1 });
  const wait = (id: string) => waitForRun(app.db.prisma, id, { timeoutMs: 150_000, pollMs: 100 });
  // A fresh worker's first job loads the code into its job thread for seconds: until then a job it took sits
  // there while the others finish a 12-tree run, so the next test would race it. Warm it with selftests first.
  const warm = async (p: Proc) => {
    for (let i = 0; i < 20; i++) {
      const runs = await Promise.all([0, 1, 2].map(async () => wait((await app.queue.enqueue('system.selftest', { durationMs: 1000, idle: true })).id)));
      if (runs.some((r) => r.workerId?.endsWith(`:${p.child.pid}`))) return;
    }
    throw new Error('the new worker never took a job');
  };

  beforeAll(async () => {
    app = await openTestApp({}, { runJobs: false });
    previous = await champion(app);
    await seed(app);
    await Promise.all([startWorker(), startWorker(), startWorker()]);
  }, 120_000);

  afterAll(async () => {
    if (app) {
      if (previous) await app.db.prisma.modelChampion.update({ where: { kind: MODEL_KIND }, data: { modelVersionId: previous } });
      else await app.db.prisma.modelChampion.deleteMany({ where: { kind: MODEL_KIND } });
    }
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await app?.close();
  });

  it('grows the trees in the coordinator and 2 share jobs, merges them into the single-process forest and promotes once', async () => {
    const run = await train({ fanout: 3, drill: { treeDelayMs: 400 } });
    const seen: number[] = [];
    const done = await waitForRun(app.db.prisma, run.id, { timeoutMs: 150_000, pollMs: 100, onProgress: (r: JobRun) => void seen.push(r.progress) });
    expect(done.error).toBeNull();
    expect(done.state).toBe('completed');
    const result = done.result as { modelVersionId: number; promoted: boolean; shares: number };
    expect(result).toMatchObject({ promoted: true, shares: 3 });
    // The run reported the trees phase while the shares were grown.
    expect(seen.some((p) => p > 0.4 && p < 0.85)).toBe(true);
    // Tree jobs 1 and 2 run on the two idle workers, build the rows themselves and claim chunks of trees alongside
    // the coordinator (a job that finds every chunk taken completes without work).
    const kids = await children(app, run.id);
    expect(kids.map((k) => k.state)).toEqual(['completed', 'completed']);
    const worked = kids.filter((k) => !(k.result as { skipped?: string }).skipped);
    expect(worked.length).toBeGreaterThanOrEqual(1);
    expect(worked.map((k) => k.workerId)).not.toContain(done.workerId);
    expect(await app.db.prisma.modelVersion.count({ where: { jobRunId: run.id } })).toBe(1);
    expect(await champion(app)).toBe(result.modelVersionId);
    expect(await app.db.prisma.jobBlob.count({ where: { runId: run.id } })).toBe(0);

    // Same data, same cutoff and seed in one job: the very same forest, byte for byte.
    const single = await wait((await train({ fanout: 1 })).id);
    expect(single.state).toBe('completed');
    expect(await children(app, single.id)).toHaveLength(0);
    const [a, b] = await Promise.all(
      [result.modelVersionId, (single.result as { modelVersionId: number }).modelVersionId].map((id) => app.db.prisma.modelVersion.findUniqueOrThrow({ where: { id } })),
    );
    expect(Buffer.from(a!.artifact!).equals(Buffer.from(b!.artifact!))).toBe(true);
    expect(a!.metrics).toEqual(b!.metrics);
    // Including the baseline fits (shared between the participants through job_blobs) and the calibration.
    expect(a!.params).toEqual(b!.params);
  }, 240_000);

  it('a worker killed in the middle of a tree share: another worker retries it and the flow completes', async () => {
    const run = await train({ fanout: 3, drill: { treeDelayMs: 600 } });
    const busy = await poll(async () => (await children(app, run.id)).find((k) => k.state === 'running' && k.progress > 0 && k.workerId), 60_000);
    const victim = procs.find((p) => busy.workerId!.endsWith(`:${p.child.pid}`))!;
    expect(victim).toBeDefined();
    await victim.kill('SIGKILL');
    // Chunks the victim had claimed but not stored: its retry must grow them (nobody else takes a live claim).
    const blobs = await app.db.prisma.jobBlob.findMany({ where: { runId: run.id, seq: 0 }, select: { name: true, data: true } });
    const stored = new Set(blobs.filter((b) => b.name.startsWith('trees:')).map((b) => b.name.replace(/^trees:/, '')));
    const pending = blobs.filter((b) => b.name.startsWith('claim:') && Buffer.from(b.data).toString() === busy.id && !stored.has(b.name.replace(/^claim:/, '')));
    procs.splice(procs.indexOf(victim), 1);
    const done = await wait(run.id);
    expect(done.error).toBeNull();
    expect(done.state).toBe('completed');
    // The victim's retry regrows the chunk it had claimed (the run waited for it) or, killed before it claimed
    // any, finds the work done.
    const retried = await poll(async () => (await children(app, run.id)).find((k) => k.id === busy.id && k.state === 'completed'), 60_000);
    expect(retried.attempts).toBeGreaterThanOrEqual(2);
    expect((retried.result as { trees: number }).trees).toBeGreaterThanOrEqual(pending.length);
    expect(retried.workerId).not.toBe(busy.workerId);
    expect(await champion(app)).toBe((done.result as { modelVersionId: number }).modelVersionId);
    await warm(await startWorker());
  }, 240_000);

  it('a share that fails for good fails the run cleanly and leaves the champion untouched', async () => {
    const before = await champion(app);
    const run = await train({ fanout: 3, drill: { failShare: 1 } });
    const done = await wait(run.id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/tree shares 1 of 3 failed for good/);
    expect(await champion(app)).toBe(before);
    const version = await app.db.prisma.modelVersion.findFirstOrThrow({ where: { jobRunId: run.id } });
    expect(version.status).toBe('failed');
    const failed = await poll(async () => (await children(app, run.id)).find((k) => k.state === 'failed'), 10_000);
    expect(failed.attempts).toBe(3);
    // The other tree job may still be growing a chunk when the run fails: it stops and removes what it wrote.
    const kids = await poll(async () => {
      const k = await children(app, run.id);
      return k.every((x) => x.state === 'completed' || x.state === 'failed') ? k : undefined;
    }, 60_000);
    expect(kids.filter((k) => k.state === 'completed')).toHaveLength(1);
    expect(await app.db.prisma.jobBlob.count({ where: { runId: run.id } })).toBe(0);
  }, 240_000);

  it('a share no worker is free to start is grown by the coordinator, and its job then finds nothing to do', async () => {
    // Two of the three workers busy with something else (waiting, not burning the CPU the coordinator needs, which
    // under a loaded CI made it outlast a CPU-bound 10 s hold): only the coordinator's worker is free.
    const busy = await Promise.all([1, 2].map(() => app.queue.enqueue('system.selftest', { durationMs: 30_000, idle: true })));
    await poll(async () => ((await app.db.prisma.jobRun.count({ where: { id: { in: busy.map((b) => b.id) }, state: 'running' } })) === 2 ? true : undefined), 60_000);
    const run = await train({ fanout: 3, drill: { treeDelayMs: 150 } });
    const done = await wait(run.id);
    expect([done.state, done.error]).toEqual(['completed', null]);
    const single = await wait((await train({ fanout: 1 })).id);
    const [a, b] = await Promise.all(
      [done, single].map((r) => app.db.prisma.modelVersion.findUniqueOrThrow({ where: { id: (r.result as { modelVersionId: number }).modelVersionId } })),
    );
    expect(Buffer.from(a!.artifact!).equals(Buffer.from(b!.artifact!))).toBe(true);
    // Both share jobs ran only after the coordinator had grown their trees: they completed without work.
    await Promise.all(busy.map((b) => wait(b.id)));
    const kids = await poll(async () => {
      const k = await children(app, run.id);
      return k.every((x) => x.state === 'completed') ? k : undefined;
    }, 60_000);
    expect(kids.map((k) => (k.result as { skipped?: string }).skipped)).toEqual([expect.any(String), expect.any(String)]);
    expect(await app.db.prisma.jobBlob.count({ where: { runId: run.id } })).toBe(0);
  }, 240_000);

  it('scores every customer in 3 range jobs, then tiers and segments them globally in one scoring run', async () => {
    const versionId = (await champion(app))!;
    const run = await app.queue.enqueue('models.score-fanout', { shares: 3 });
    const done = await wait(run.id);
    expect([done.state, done.error]).toEqual(['completed', null]);
    const result = done.result as { scored: number; scoringRunId: number; shares: number };
    const total = await app.db.prisma.customer.count();
    expect(result).toMatchObject({ scored: total, shares: 3 });
    const ranges = await app.db.prisma.jobRun.findMany({ where: { name: 'models.score-range', payload: { path: ['fanoutRunId'], equals: run.id } } });
    expect(ranges.map((r) => r.state)).toEqual(['completed', 'completed', 'completed']);
    // One row per (customer, version) however often a range ran: the upsert cannot double-write.
    expect(await app.db.prisma.score.count({ where: { modelVersionId: versionId } })).toBe(total);
    const sr = await app.db.prisma.scoringRun.findUniqueOrThrow({ where: { id: result.scoringRunId } });
    expect([sr.status, sr.full, sr.customerCount]).toEqual(['completed', true, total]);
    await expectExactTiers(app, versionId, total);
    // The segment rows were written range by range, by 3 more jobs: each range's ranks are still everyone's,
    // so they equal what one statement over the whole run writes for the same scores.
    const segJobs = await app.db.prisma.jobRun.findMany({ where: { id: { in: [0, 1, 2].map((i) => flowRunId(run.id, `segments:${i}`)) } } });
    expect(segJobs.map((j) => [j.name, j.state])).toEqual(Array(3).fill(['models.score-segments', 'completed']));
    const segments = (runId: number) =>
      app.db.prisma.customerSegment.findMany({ where: { scoringRunId: runId }, select: { customerId: true, kind: true, name: true }, orderBy: [{ kind: 'asc' }, { customerId: 'asc' }] });
    const byRanges = await segments(result.scoringRunId);
    expect(byRanges.filter((r) => r.kind === 'value_tier')).toHaveLength(total);
    expect(new Set(byRanges.map((r) => r.kind))).toEqual(new Set(['value_tier', 'rfm', 'churn_risk']));
    const whole = await startScoringRun(app.db.prisma, { modelVersionId: versionId, full: true });
    await completeScoringRun(app.db.prisma, { runId: whole, modelVersionId: versionId, asOf: new Date((done.result as { asOf: string }).asOf) });
    expect(await segments(whole)).toEqual(byRanges);
    // A range written again (a retried segment job whose first attempt had committed) replaces its rows.
    const ids = (await app.db.prisma.customer.findMany({ select: { id: true }, orderBy: { id: 'asc' } })).map((c) => c.id);
    const range = { afterId: ids[0]! - 1, untilId: ids[Math.floor(ids.length / 2)]! };
    await segmentScoringRange(app.db.prisma, { runId: result.scoringRunId, modelVersionId: versionId, asOf: new Date((done.result as { asOf: string }).asOf), range });
    expect(await segments(result.scoringRunId)).toEqual(byRanges);

    // A segment range that failed for good left no rows: the complete step fails the run, the last completed
    // run's segments stay current.
    const asOf = (done.result as { asOf: string }).asOf;
    const broken = await startScoringRun(app.db.prisma, { modelVersionId: versionId, full: true });
    await segmentScoringRange(app.db.prisma, { runId: broken, modelVersionId: versionId, asOf: new Date(asOf), range });
    const edges = [range.afterId, range.untilId, ids.at(-1)!];
    const ctx = { runId: uid('complete'), attempt: 1, db: app.db.prisma, log: app.log, signal: new AbortController().signal, progress: () => {} };
    const payload = { scoringRunId: broken, modelVersionId: versionId, asOf: new Date(asOf), shares: 2, afterId: edges[0]!, untilId: edges[2]!, edges, scored: total };
    await expect(completeScoreFlow(ctx, payload)).rejects.toThrow(/1 of 2 segment ranges failed for good/);
    expect((await app.db.prisma.scoringRun.findUniqueOrThrow({ where: { id: broken } })).status).toBe('failed');
    const current = await app.db.prisma.scoringRun.findFirstOrThrow({ where: { status: 'completed' }, orderBy: [{ finishedAt: 'desc' }, { id: 'desc' }] });
    expect(current.id).toBe(whole);
  }, 240_000);
});

/** Every score of the version in a tier, tier sizes exact percentiles of everyone scored. */
async function expectExactTiers(app: App, versionId: number, total: number): Promise<void> {
  const tiers = await app.db.prisma.score.groupBy({ by: ['tier'], where: { modelVersionId: versionId }, _count: true });
  const count = Object.fromEntries(tiers.map((t) => [t.tier, t._count]));
  let prev = 0;
  for (const t of TIERS) {
    expect([t.name, count[t.name] ?? 0]).toEqual([t.name, Math.floor(total * t.share) - prev]);
    prev = Math.floor(total * t.share);
  }
  expect(count.null ?? 0).toBe(0);
}

describeOn('pglite')('training fan-out without BullMQ', () => {
  it('trains and scores in one job each when asked for a fan-out on the in-process transport', async () => {
    const app = await openTestApp();
    try {
      await seed(app);
      const run = await app.queue.enqueue('models.train', { horizonDays: 60, cutoff: CUTOFF, options: { force: true, score: false, nEstimators: 6, fanout: 3 } });
      const done = await waitForRun(app.db.prisma, run.id, { timeoutMs: 150_000 });
      expect(done.state).toBe('completed');
      expect((done.result as { promoted: boolean }).promoted).toBe(true);
      expect(await children(app, run.id)).toHaveLength(0);
      const versionId = (done.result as { modelVersionId: number }).modelVersionId;
      expect(await champion(app)).toBe(versionId);
      const scored = await waitForRun(app.db.prisma, (await app.queue.enqueue('models.score-fanout', { shares: 3 })).id, { timeoutMs: 150_000 });
      expect([scored.state, scored.error]).toEqual(['completed', null]);
      const total = await app.db.prisma.customer.count();
      expect((scored.result as { scored: number }).scored).toBe(total);
      await expectExactTiers(app, versionId, total);
    } finally {
      await app.close();
    }
  }, 180_000);
});

async function poll<T>(fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
