import type { App } from '../../src/app';
import { customerFeatures, materializeFeatures } from '../../src/features/feature-store.service';
import { DAY_MS, FEATURE_NAMES } from '../../src/features/features.definitions';
import { ingestCustomers, ingestTransactions } from '../../src/ingest/ingest.service';
import { TRAIN_DEDUPE_KEY } from '../../src/jobs/handlers/train-model.job';
import { waitForRun } from '../../src/jobs/wait';
import { TIERS } from '../../src/models/scoring/tiers';
import { MODEL_KIND } from '../../src/models/training/train.service';
import { promoteIfBetter } from '../../src/models/training/registry.service';
import { type Proc, spawnEntry } from '../helpers/processes';
import { backend, openTestApp, testEnv, uid } from '../helpers/test-env';

const NOW = Date.now();
const N = 240;

describe(`features, training and scoring (${backend})`, () => {
  let app: App;
  let worker: Proc | undefined;
  let previousChampion: number | null = null;
  const prefix = uid('clv');
  const ext = (i: number) => `${prefix}-${i}`;

  beforeAll(async () => {
    app = await openTestApp();
    if (backend === 'postgres') {
      worker = spawnEntry('jobs/worker.ts', testEnv().raw);
      await worker.waitForLog(/bullmq worker started/);
    }
    previousChampion = (await app.db.prisma.modelChampion.findUnique({ where: { kind: MODEL_KIND } }))?.modelVersionId ?? null;
    await ingestCustomers(app.db.prisma, Array.from({ length: N }, (_, i) => ({ externalId: ext(i), birthYear: 1960 + (i % 40), region: i % 3 ? 'north' : 'south' })));
    const txns = [];
    for (let i = 0; i < N; i++) {
      // Deterministic spread of habits: every k-th day, with a basket that grows with i.
      const every = 7 + (i % 40);
      const stop = i % 4 === 0 ? 200 : 0; // a quarter stopped buying 200 days ago
      for (let d = 400; d > stop; d -= every) {
        txns.push({ externalId: `${ext(i)}-t${d}`, customerExternalId: ext(i), occurredAt: new Date(NOW - d * DAY_MS).toISOString(), amount: 10 + (i % 17) * 5 + (d % 3) });
      }
    }
    for (let i = 0; i < txns.length; i += 2000) await ingestTransactions(app.db.prisma, txns.slice(i, i + 2000));
  }, 120_000);

  afterAll(async () => {
    // Leave the champion as we found it: other files read it.
    if (app) {
      if (previousChampion) await app.db.prisma.modelChampion.update({ where: { kind: MODEL_KIND }, data: { modelVersionId: previousChampion } });
      else await app.db.prisma.modelChampion.deleteMany({ where: { kind: MODEL_KIND } });
    }
    await worker?.kill('SIGTERM');
    await app?.close();
  });

  const wait = (id: string) => waitForRun(app.db.prisma, id, { timeoutMs: 240_000 });
  const idOf = async (i: number) => (await app.db.prisma.customer.findUniqueOrThrow({ where: { externalId: ext(i) } })).id;
  const champion = async () => (await app.db.prisma.modelChampion.findUnique({ where: { kind: MODEL_KIND } }))?.modelVersionId ?? null;

  it('stores point-in-time snapshots that ignore later events', async () => {
    const id = await idOf(5);
    const asOf = new Date(NOW - 100 * DAY_MS);
    await materializeFeatures(app.db.prisma, { asOf, current: false, customerIds: [id] });
    const stored = await customerFeatures(app.db.prisma, { externalId: ext(5), asOf });
    expect(stored.stored).toBe(true);
    // A purchase after asOf, then a recomputation at the same instant: identical behavioural features.
    await ingestTransactions(app.db.prisma, [{ externalId: `${ext(5)}-late`, customerExternalId: ext(5), occurredAt: new Date(NOW - 50 * DAY_MS).toISOString(), amount: 5000 }]);
    await app.db.prisma.featureSnapshot.deleteMany({ where: { customerId: id, asOf } });
    const onTheFly = await customerFeatures(app.db.prisma, { customerId: id, asOf });
    expect(onTheFly.stored).toBe(false);
    for (const n of FEATURE_NAMES) expect([n, onTheFly.values[n]]).toEqual([n, stored.values[n]]);
    expect(stored.values.monetary_max).toBeLessThan(5000);
  }, 60_000);

  it('features.refresh recomputes stale customers, clears the mark and keeps one current snapshot', async () => {
    const run = await app.queue.enqueue('features.refresh', {});
    expect((await wait(run.id)).state).toBe('completed');
    const id = await idOf(5);
    const c = await app.db.prisma.customer.findUniqueOrThrow({ where: { id } });
    expect(c.featuresStaleAt).toBeNull();
    const current = await app.db.prisma.featureSnapshot.findMany({ where: { customerId: id, isCurrent: true } });
    expect(current).toHaveLength(1);
    expect((current[0]!.values as Record<string, number>).monetary_max).toBe(5000);
  }, 120_000);

  it('trains, records every model on the same holdout, promotes and scores everyone with exact tiers', async () => {
    const run = await app.queue.enqueue('models.train', { horizonDays: 90, options: { force: true, nEstimators: 20 } }, { dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts: 1 });
    const done = await wait(run.id);
    expect(done.error).toBeNull();
    const result = done.result as { modelVersionId: number; promoted: boolean; scored: number };
    expect(result.promoted).toBe(true);
    const v = await app.db.prisma.modelVersion.findUniqueOrThrow({ where: { id: result.modelVersionId } });
    expect(v.status).toBe('ready');
    expect(Object.keys(v.metrics as object).sort()).toEqual(['bgnbd_gg', 'forest', 'naive']);
    expect(v.artifactBytes).toBeGreaterThan(0);
    expect(Object.keys(v.featureImportances as object).sort()).toEqual([...(v.featureNames as string[])].sort());
    expect(v.embeddingModel === null ? String((v.params as { semantic: string }).semantic) : 'model').toMatch(/unavailable|model/);
    expect(await champion()).toBe(v.id);
    const total = await app.db.prisma.customer.count();
    expect(result.scored).toBe(total);
    const tiers = await app.db.prisma.score.groupBy({ by: ['tier'], where: { modelVersionId: v.id }, _count: true });
    const count = Object.fromEntries(tiers.map((t) => [t.tier, t._count]));
    let prev = 0;
    for (const t of TIERS) {
      expect([t.name, count[t.name] ?? 0]).toEqual([t.name, Math.floor(total * t.share) - prev]);
      prev = Math.floor(total * t.share);
    }
    const s = await app.db.prisma.score.findUniqueOrThrow({ where: { customerId_modelVersionId: { customerId: await idOf(7), modelVersionId: v.id } } });
    expect(Number(s.clv)).toBeGreaterThanOrEqual(0);
    expect((s.explanation as unknown[]).length).toBe(3);
  }, 300_000);

  it('re-scores a customer whose features change without retraining', async () => {
    const id = await idOf(9);
    const versionId = (await champion())!;
    const before = await app.db.prisma.score.findUniqueOrThrow({ where: { customerId_modelVersionId: { customerId: id, modelVersionId: versionId } } });
    await ingestTransactions(app.db.prisma, [{ externalId: `${ext(9)}-big`, customerExternalId: ext(9), occurredAt: new Date(NOW - DAY_MS).toISOString(), amount: 20000 }]);
    const run = await app.queue.enqueue('features.refresh', {});
    const done = await wait(run.id);
    expect((done.result as { rescored: number }).rescored).toBeGreaterThanOrEqual(1);
    const after = await app.db.prisma.score.findUniqueOrThrow({ where: { customerId_modelVersionId: { customerId: id, modelVersionId: versionId } } });
    expect(after.scoredAt.getTime()).toBeGreaterThan(before.scoredAt.getTime());
    expect(Number(after.clv)).not.toBe(Number(before.clv));
  }, 120_000);

  it('an ingest alone refreshes the features and re-scores the customer (no manual refresh)', async () => {
    const id = await idOf(11);
    const versionId = (await champion())!;
    const key = { customerId_modelVersionId: { customerId: id, modelVersionId: versionId } };
    const before = await app.db.prisma.score.findUniqueOrThrow({ where: key });
    await ingestTransactions(app.db.prisma, [{ externalId: `${ext(11)}-auto`, customerExternalId: ext(11), occurredAt: new Date(NOW - DAY_MS).toISOString(), amount: 30000 }]);
    const deadline = Date.now() + 120_000;
    let after = before;
    while (after.scoredAt.getTime() === before.scoredAt.getTime() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      after = await app.db.prisma.score.findUniqueOrThrow({ where: key });
    }
    expect(after.scoredAt.getTime()).toBeGreaterThan(before.scoredAt.getTime());
    expect(Number(after.clv)).not.toBe(Number(before.clv));
    const snap = await app.db.prisma.featureSnapshot.findFirstOrThrow({ where: { customerId: id, isCurrent: true } });
    expect((snap.values as Record<string, number>).monetary_max).toBe(30000);
  }, 150_000);

  it('a training job that dies after writing its version row leaves the champion untouched', async () => {
    const before = await champion();
    const run = await app.queue.enqueue('models.train', { horizonDays: 90, options: { force: true, failAfterVersionRow: true } }, { dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts: 1 });
    const done = await wait(run.id);
    expect(done.state).toBe('failed');
    expect(await champion()).toBe(before);
    const orphan = await app.db.prisma.modelVersion.findFirstOrThrow({ where: { jobRunId: run.id } });
    expect(orphan.status).toBe('training');
    await expect(promoteIfBetter(app.db.prisma, orphan.id, { force: true })).rejects.toThrow(/only ready versions/);
  }, 120_000);

  it('concurrent retrain requests share one run', async () => {
    const payload = { horizonDays: 60, options: { nEstimators: 5, score: false } };
    const [a, b] = await Promise.all([
      app.queue.enqueue('models.train', payload, { dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts: 1 }),
      app.queue.enqueue('models.train', payload, { dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts: 1 }),
    ]);
    expect(b.id).toBe(a.id);
    expect((await wait(a.id)).state).toBe('completed');
    expect(await app.db.prisma.modelVersion.count({ where: { jobRunId: a.id } })).toBe(1);
  }, 240_000);

  it('promotes only a better version unless forced, atomically per kind', async () => {
    const kind = uid('kind');
    const make = (gini: number, status: 'ready' | 'failed' = 'ready') =>
      app.db.prisma.modelVersion.create({ data: { kind, status, horizonDays: 30, cutoff: new Date(), metrics: { forest: { normalizedGini: gini, mae: 10 } } } });
    const champ = async () => (await app.db.prisma.modelChampion.findUnique({ where: { kind } }))?.modelVersionId;
    const v1 = await make(0.5);
    expect((await promoteIfBetter(app.db.prisma, v1.id)).reason).toBe('first champion');
    const v2 = await make(0.4);
    expect((await promoteIfBetter(app.db.prisma, v2.id)).promoted).toBe(false);
    expect(await champ()).toBe(v1.id);
    const v3 = await make(0.6);
    const [r3, r2] = await Promise.all([promoteIfBetter(app.db.prisma, v3.id), promoteIfBetter(app.db.prisma, v2.id)]);
    expect(r3.promoted).toBe(true);
    expect(r2.promoted).toBe(false);
    expect(await champ()).toBe(v3.id);
    expect((await promoteIfBetter(app.db.prisma, v2.id, { force: true })).promoted).toBe(true);
    expect(await champ()).toBe(v2.id);
    expect((await promoteIfBetter(app.db.prisma, v1.id, { metric: 'mae' })).promoted).toBe(false);
    const bad = await make(0.99, 'failed');
    await expect(promoteIfBetter(app.db.prisma, bad.id, { force: true })).rejects.toThrow(/only ready versions/);
    expect(await champ()).toBe(v2.id);
    await app.db.prisma.modelChampion.delete({ where: { kind } });
  }, 60_000);
});
