import crypto from 'node:crypto';
import type { App } from '../../src/app';
import { eraseCustomer } from '../../src/customers/erase.service';
import { DAY_MS } from '../../src/features/features.definitions';
import { ingestCustomers, ingestTransactions } from '../../src/ingest/ingest.service';
import { refreshFeaturesJob } from '../../src/jobs/handlers/refresh-features.job';
import type { JobContext } from '../../src/jobs/job.types';
import { createLogger } from '../../src/lib/logger';
import { rfmOf } from '../../src/models/clv/clv-baselines';
import { trainClvForest } from '../../src/models/clv/clv-forest';
import { serializeForest } from '../../src/models/forest';
import { scoreCustomers } from '../../src/models/scoring/score.service';
import { REST_TIER, TIERS } from '../../src/models/scoring/tiers';
import { loadAllHistories, MODEL_KIND } from '../../src/models/training/train.service';
import { churnBand, noPurchaseProbability } from '../../src/segments/churn-bands';
import { rfmSegments } from '../../src/segments/rfm';
import { gql } from '../helpers/processes';
import { backend, uid } from '../helpers/test-env';
import { type TestServer, startTestServer } from '../helpers/test-server';

jest.setTimeout(180_000);

const NOW = Date.now();
const N = 40;
const SEGMENTS = `query($kind: SegmentKind) { segments(kind: $kind) { kind name customerCount share predictedValue averagePredictedValue
  historicalValue valueShare averageChurnRisk } }`;
const SEGMENT_PAGE = `query($kind: SegmentKind!, $name: String!, $first: Int, $after: String) { segment(kind: $kind, name: $name) {
  customerCount customers(first: $first, after: $after) { edges { cursor node { id externalId } } pageInfo { hasNextPage endCursor } } } }`;
const TRANSITIONS = `query($kind: SegmentKind) { segmentTransitions(kind: $kind) { kind fromRunId toRunId moved cells { from to count } } }`;

interface SegRow { customer_id: number; kind: string; name: string }

describe(`segments with every scoring run (${backend})`, () => {
  let server: TestServer;
  let app: App;
  let reader: string;
  let previousChampion: number | null = null;
  let versionId = 0;
  const prefix = uid('seg');
  const ext = (i: number) => `${prefix}-${i}`;
  const asOf1 = new Date(NOW - 2 * DAY_MS);
  const idOf = async (e: string) => (await app.db.prisma.customer.findUniqueOrThrow({ where: { externalId: e } })).id;
  const latestRuns = () => app.db.prisma.scoringRun.findMany({ where: { status: 'completed' }, orderBy: [{ finishedAt: 'desc' }, { id: 'desc' }], take: 2 });
  const rowsOf = (runId: number) =>
    app.db.prisma.$queryRaw<SegRow[]>`select customer_id::int as customer_id, kind, name from customer_segments where scoring_run_id = ${runId}`;

  beforeAll(async () => {
    server = await startTestServer({ runJobs: false });
    app = server.app;
    reader = server.keys.reader;
    previousChampion = (await app.db.prisma.modelChampion.findUnique({ where: { kind: MODEL_KIND } }))?.modelVersionId ?? null;
    // Hand-made habits: every `every` days for two years, some stopped long ago, one customer never bought.
    await ingestCustomers(app.db.prisma, Array.from({ length: N + 1 }, (_, i) => ({ externalId: ext(i), region: i % 2 ? 'north' : 'south' })));
    const txns = [];
    for (let i = 0; i < N; i++) {
      const every = 5 + ((i * 7) % 60);
      const stop = i % 5 === 0 ? 300 : i % 7 === 0 ? 120 : 3;
      for (let d = 720; d > stop; d -= every) {
        txns.push({ externalId: `${ext(i)}-t${d}`, customerExternalId: ext(i), occurredAt: new Date(NOW - d * DAY_MS).toISOString(), amount: 10 + (i % 13) * 7.25 });
      }
      if (i % 6 === 1) txns.push({ externalId: `${ext(i)}-r`, customerExternalId: ext(i), occurredAt: new Date(NOW - 30 * DAY_MS).toISOString(), amount: 12.5, kind: 'refund' });
    }
    for (let i = 0; i < txns.length; i += 2000) await ingestTransactions(app.db.prisma, txns.slice(i, i + 2000));
    // A small model trained in-process on these histories, stored as the champion (training itself is tested elsewhere).
    const histories = (await loadAllHistories(app.db.prisma, asOf1)).filter((h) => h.key && h.events.length);
    const model = trainClvForest(histories, asOf1.getTime(), { horizonDays: 60, forest: { nEstimators: 8, minSamplesLeaf: 2, seed: 3 } });
    const artifact = serializeForest(model.forest);
    const v = await app.db.prisma.modelVersion.create({
      data: {
        kind: MODEL_KIND, status: 'ready', horizonDays: 60, cutoff: asOf1, featureNames: model.featureNames,
        params: { target: model.target, calibration: { ...model.calibration }, baselines: model.baselines as object },
        artifact: Buffer.from(artifact), artifactBytes: artifact.byteLength, trainingRows: model.trainingRows,
      },
    });
    versionId = v.id;
    await app.db.prisma.modelChampion.upsert({ where: { kind: MODEL_KIND }, create: { kind: MODEL_KIND, modelVersionId: v.id }, update: { modelVersionId: v.id } });
  }, 180_000);

  afterAll(async () => {
    if (app) {
      if (previousChampion) await app.db.prisma.modelChampion.update({ where: { kind: MODEL_KIND }, data: { modelVersionId: previousChampion } });
      else await app.db.prisma.modelChampion.deleteMany({ where: { kind: MODEL_KIND } });
    }
    await server?.close();
  });

  /** Checks a run's segments against the rules computed independently in TypeScript. */
  async function expectRunFollowsRules(runId: number, asOf: Date) {
    const rows = await rowsOf(runId);
    const byKind = (k: string) => new Map(rows.filter((r) => r.kind === k).map((r) => [r.customer_id, r.name]));
    const scores = await app.db.prisma.$queryRaw<{ customer_id: number; clv: string; churn_risk: number | null; tier: string | null; segment: string | null }[]>`
      select customer_id::int as customer_id, clv::text as clv, churn_risk, tier, segment from scores where model_version_id = ${versionId}`;
    const run = await app.db.prisma.scoringRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.customerCount).toBe(scores.length);
    // Value tiers: exact percentiles of the ranking by (clv desc, id asc).
    const tiers = byKind('value_tier');
    expect(tiers.size).toBe(scores.length);
    const ranked = [...scores].sort((a, b) => Number(b.clv) - Number(a.clv) || a.customer_id - b.customer_id);
    let prev = 0;
    for (const t of TIERS) {
      const cut = Math.floor(scores.length * t.share);
      expect([t.name, ranked.slice(prev, cut).every((s) => tiers.get(s.customer_id) === t.name)]).toEqual([t.name, true]);
      expect([t.name, [...tiers.values()].filter((n) => n === t.name).length]).toEqual([t.name, cut - prev]);
      prev = cut;
    }
    expect(ranked.slice(prev).every((s) => tiers.get(s.customer_id) === REST_TIER)).toBe(true);
    // RFM: the SQL agrees with the TypeScript rules on every customer with a purchase before asOf.
    const agg = await app.db.prisma.$queryRaw<{ customer_id: number; orders: number; spend: string; last: Date }[]>`
      select customer_id::int as customer_id, count(*) filter (where kind = 'purchase')::int as orders,
        sum(case when kind = 'purchase' then amount else -abs(amount) end)::text as spend, max(occurred_at) filter (where kind = 'purchase') as last
      from transactions where occurred_at < ${asOf.toISOString()}::timestamptz
        and customer_id in (select customer_id from scores where model_version_id = ${versionId})
      group by customer_id having count(*) filter (where kind = 'purchase') > 0`;
    const expected = rfmSegments(agg.map((a) => ({ recencyDays: Math.floor((asOf.getTime() - a.last.getTime()) / DAY_MS), orders: a.orders, netSpend: Number(a.spend) })));
    const rfm = byKind('rfm');
    expect(rfm.size).toBe(agg.length);
    const mismatches = agg.filter((a, i) => rfm.get(a.customer_id) !== expected[i]!.segment);
    expect(mismatches).toEqual([]);
    // Churn bands of 1 − P(alive); scores carry the run's tier and RFM name.
    const churn = byKind('churn_risk');
    for (const s of scores) {
      expect([s.customer_id, churn.get(s.customer_id) ?? null]).toEqual([s.customer_id, s.churn_risk == null ? null : churnBand(s.churn_risk)]);
      expect([s.customer_id, s.tier, s.segment]).toEqual([s.customer_id, tiers.get(s.customer_id), rfm.get(s.customer_id) ?? null]);
    }
    return { rows, scores };
  }

  it('a full scoring run stores every kind of segment by the documented rules', async () => {
    const out = await scoreCustomers(app.db.prisma, { modelVersionId: versionId, asOf: asOf1 });
    const run = await app.db.prisma.scoringRun.findUniqueOrThrow({ where: { id: out.scoringRunId } });
    expect([run.status, run.full, run.modelVersionId, run.finishedAt !== null]).toEqual(['completed', true, versionId, true]);
    expect(out.segmented).toBe(await app.db.prisma.customer.count());
    const { rows } = await expectRunFollowsRules(run.id, asOf1);
    // Churn risk is BG/NBD's probability of no purchase within the horizon (not 1 − P(alive)).
    const id7 = await idOf(ext(7));
    const s7 = await app.db.prisma.score.findUniqueOrThrow({ where: { customerId_modelVersionId: { customerId: id7, modelVersionId: versionId } } });
    const v = await app.db.prisma.modelVersion.findUniqueOrThrow({ where: { id: versionId } });
    const h7 = (await loadAllHistories(app.db.prisma, asOf1)).find((h) => h.key === String(id7))!;
    const f7 = rfmOf(h7, asOf1.getTime())!;
    const bg = (v.params as { baselines: { bgnbd: { r: number; alpha: number } } }).baselines.bgnbd;
    expect(s7.churnRisk!).toBeCloseTo(noPurchaseProbability(bg, s7.pAlive!, f7.x, f7.T, 60 / 7), 9);
    expect(s7.churnRisk!).toBeGreaterThan(1 - s7.pAlive! - 1e-12);
    // The customer who never bought has a tier but no RFM segment and no churn band.
    const none = await idOf(ext(N));
    expect(rows.filter((r) => r.customer_id === none).map((r) => r.kind)).toEqual(['value_tier']);
  });

  it('segments(kind) adds up: sizes, shares, predicted and historical value', async () => {
    const [run] = await latestRuns();
    const scores = await app.db.prisma.score.findMany({ where: { modelVersionId: versionId } });
    const totalClv = scores.reduce((s, x) => s + Number(x.clv), 0);
    for (const kind of ['VALUE_TIER', 'RFM', 'CHURN_RISK']) {
      const res = await gql(server.url, reader, SEGMENTS, { kind });
      expect(res.body.errors).toBeUndefined();
      const segs = res.body.data.segments as { name: string; customerCount: number; share: number; predictedValue: string; historicalValue: string; valueShare: number; averageChurnRisk: number | null }[];
      const rows = (await rowsOf(run!.id)).filter((r) => r.kind === kind.toLowerCase());
      const count = segs.reduce((s, x) => s + x.customerCount, 0);
      expect(count).toBe(rows.length);
      expect(segs.reduce((s, x) => s + x.share, 0)).toBeCloseTo(rows.length / run!.customerCount, 9);
      const inKind = new Set(rows.map((r) => r.customer_id));
      const kindClv = scores.filter((s) => inKind.has(s.customerId)).reduce((s, x) => s + Number(x.clv), 0);
      expect(segs.reduce((s, x) => s + Number(x.predictedValue), 0)).toBeCloseTo(kindClv, 2);
      expect(segs.reduce((s, x) => s + x.valueShare, 0)).toBeCloseTo(totalClv > 0 ? kindClv / totalClv : 0, 6);
      // Each segment's historical value is its customers' net spend to date; churn risk their mean.
      for (const seg of segs.filter((x) => x.customerCount > 0)) {
        const ids = rows.filter((r) => r.name === seg.name).map((r) => r.customer_id);
        const [h] = await app.db.prisma.$queryRaw<{ spend: string }[]>`
          select coalesce(sum(case when kind = 'purchase' then amount else -abs(amount) end), 0)::text as spend
          from transactions where customer_id in (select (jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))::int)`;
        expect([seg.name, seg.historicalValue]).toEqual([seg.name, h!.spend]);
        const risks = scores.filter((s) => ids.includes(s.customerId) && s.churnRisk != null).map((s) => s.churnRisk!);
        if (risks.length) expect(seg.averageChurnRisk!).toBeCloseTo(risks.reduce((a, b) => a + b, 0) / risks.length, 9);
        else expect(seg.averageChurnRisk).toBeNull();
      }
    }
    const tiers = (await gql(server.url, reader, SEGMENTS, {})).body.data.segments as { name: string }[];
    expect(tiers.map((t) => t.name)).toEqual(['top_1', 'top_5', 'top_10', 'top_25', 'top_50', 'rest']);
  });

  it('segment(kind, name) pages its customers by predicted CLV without gaps or repeats', async () => {
    const [run] = await latestRuns();
    const rows = (await rowsOf(run!.id)).filter((r) => r.kind === 'value_tier' && r.name === 'top_50');
    expect(rows.length).toBeGreaterThan(3);
    // About six pages whatever the population (the PostgreSQL database is shared with other test files).
    const first = Math.min(500, Math.max(2, Math.ceil(rows.length / 6)));
    const seen: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard <= rows.length; guard++) {
      const res: { body: { data?: any; errors?: unknown[] } } = await gql(server.url, reader, SEGMENT_PAGE, { kind: 'VALUE_TIER', name: 'top_50', first, after });
      expect(res.body.errors).toBeUndefined();
      const seg: { customerCount: number; customers: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } = res.body.data.segment;
      expect(seg.customerCount).toBe(rows.length);
      seen.push(...seg.customers.edges.map((e) => e.node.id));
      expect(seg.customers.edges.length).toBe(seg.customers.pageInfo.hasNextPage ? first : rows.length - (seen.length - seg.customers.edges.length));
      if (!seg.customers.pageInfo.hasNextPage) break;
      after = seg.customers.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].map(Number).sort((a, b) => a - b)).toEqual(rows.map((r) => r.customer_id).sort((a, b) => a - b));
    const clv = new Map((await app.db.prisma.score.findMany({ where: { modelVersionId: versionId } })).map((s) => [s.customerId, Number(s.clv)]));
    const values = seen.map((id) => clv.get(Number(id))!);
    expect(values).toEqual([...values].sort((a, b) => b - a));
    // Unknown names are null; a cursor from another segment is refused.
    expect((await gql(server.url, reader, SEGMENT_PAGE, { kind: 'RFM', name: 'nope' })).body.data.segment).toBeNull();
    const other = await gql(server.url, reader, SEGMENT_PAGE, { kind: 'VALUE_TIER', name: 'rest', first: 1, after });
    expect(other.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('Customer.segments lists the current run; histogram and runs are served', async () => {
    const q = `query($e: String) { customer(externalId: $e) { segments { kind name } score { tier segment } } }`;
    const c = (await gql(server.url, reader, q, { e: ext(3) })).body.data.customer;
    expect(c.segments.map((s: { kind: string }) => s.kind)).toEqual(['VALUE_TIER', 'RFM', 'CHURN_RISK']);
    expect([c.segments[0].name, c.segments[1].name]).toEqual([c.score.tier, c.score.segment]);
    const h = await gql(server.url, reader, `{ clvHistogram(bins: 7, log: false) { lower upper count } scoringRuns(first: 1) { id full status customerCount modelVersion { id } } }`);
    expect(h.body.errors).toBeUndefined();
    expect(h.body.data.clvHistogram).toHaveLength(7);
    expect(h.body.data.clvHistogram.reduce((s: number, b: { count: number }) => s + b.count, 0)).toBe(await app.db.prisma.score.count({ where: { modelVersionId: versionId } }));
    expect(h.body.data.scoringRuns[0]).toMatchObject({ full: true, status: 'completed', modelVersion: { id: String(versionId) } });
    const logBins = (await gql(server.url, reader, `{ clvHistogram(bins: 5) { lower upper count } }`)).body.data.clvHistogram as { lower: number; upper: number; count: number }[];
    const zeros = await app.db.prisma.score.count({ where: { modelVersionId: versionId, clv: 0 } });
    expect(logBins).toHaveLength(zeros > 0 ? 6 : 5);
    expect(logBins.reduce((s, b) => s + b.count, 0)).toBe(h.body.data.clvHistogram.reduce((s: number, b: { count: number }) => s + b.count, 0));
    const positive = logBins.slice(zeros > 0 ? 1 : 0);
    // Log-spaced: every bin spans the same ratio.
    for (const b of positive) expect(b.upper / b.lower).toBeCloseTo(positive[0]!.upper / positive[0]!.lower, 6);
    const bad = await gql(server.url, reader, `{ clvHistogram(bins: 0) { count } }`);
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('a partial re-score after a change re-ranks everyone and records transitions', async () => {
    const [first] = await latestRuns();
    const changed = await idOf(ext(0)); // stopped 300 days ago: about to come back big
    const before = new Map((await rowsOf(first!.id)).filter((r) => r.customer_id === changed).map((r) => [r.kind, r.name]));
    await ingestTransactions(app.db.prisma, [{ externalId: `${ext(0)}-back`, customerExternalId: ext(0), occurredAt: new Date(NOW - DAY_MS).toISOString(), amount: 5000 }]);
    await ingestCustomers(app.db.prisma, [{ externalId: ext(N + 1) }]);
    await ingestTransactions(app.db.prisma, [{ externalId: `${ext(N + 1)}-t`, customerExternalId: ext(N + 1), occurredAt: new Date(NOW - 5 * DAY_MS).toISOString(), amount: 40 }]);
    const ctx: JobContext = { runId: crypto.randomUUID(), attempt: 1, db: app.db.prisma, log: createLogger('silent'), signal: new AbortController().signal, progress: () => undefined };
    const res = await refreshFeaturesJob.handler({ limit: 50_000, rescore: true }, ctx);
    expect(res.rescored).toBeGreaterThanOrEqual(2);
    const [second] = await latestRuns();
    expect(second!.id).not.toBe(first!.id);
    expect([second!.full, second!.status, second!.jobRunId]).toEqual([false, 'completed', ctx.runId]);
    // A partial run segments as of its own scoring instant (the re-scored rows carry it).
    await expectRunFollowsRules(second!.id, await lastScoredAt());
    const after = new Map((await rowsOf(second!.id)).filter((r) => r.customer_id === changed).map((r) => [r.kind, r.name]));
    // RFM is relative to everyone scored: with only this file's customers (PGlite; PostgreSQL is shared with other
    // files) a customer back after 300 days with a big order must leave their old segment.
    if ((await app.db.prisma.customer.count()) === N + 2) expect(after.get('rfm')).not.toBe(before.get('rfm'));
    const [prevRows, curRows] = [await rowsOf(first!.id), await rowsOf(second!.id)];
    for (const kind of ['RFM', 'VALUE_TIER', 'CHURN_RISK']) {
      const t = (await gql(server.url, reader, TRANSITIONS, { kind })).body.data.segmentTransitions;
      expect([t.kind, t.fromRunId, t.toRunId]).toEqual([kind, String(first!.id), String(second!.id)]);
      // The matrix, recomputed from both runs' rows.
      const k = kind.toLowerCase();
      const prev = new Map(prevRows.filter((r) => r.kind === k).map((r) => [r.customer_id, r.name]));
      const expected = new Map<string, number>();
      for (const r of curRows.filter((x) => x.kind === k)) {
        const key = `${prev.get(r.customer_id) ?? null}>${r.name}`;
        expected.set(key, (expected.get(key) ?? 0) + 1);
      }
      const cells = t.cells as { from: string | null; to: string; count: number }[];
      expect(new Map(cells.map((c) => [`${c.from}>${c.to}`, c.count]))).toEqual(expected);
      const moved = curRows.filter((r) => r.kind === k && prev.has(r.customer_id) && prev.get(r.customer_id) !== r.name).length;
      expect(t.moved).toBe(moved);
      // The customer created after the first run comes from nowhere; the changed one sits in its cell.
      expect(cells.filter((c) => c.from === null).reduce((s, c) => s + c.count, 0)).toBeGreaterThanOrEqual(1);
      if (kind === 'RFM') expect(cells.some((c) => c.from === (before.get('rfm') ?? null) && c.to === after.get('rfm'))).toBe(true);
    }
    // Something moved between the runs (at least the changed customer, in RFM, when the data is this file's alone).
    const t = (await gql(server.url, reader, TRANSITIONS, { kind: 'RFM' })).body.data.segmentTransitions;
    if ((await app.db.prisma.customer.count()) === N + 2) expect(t.moved).toBeGreaterThanOrEqual(1);
  });

  it('erasing a customer removes their segment rows in every run', async () => {
    const id = await idOf(ext(3));
    const n = await app.db.prisma.customerSegment.count({ where: { customerId: id } });
    expect(n).toBe(6); // two runs × three kinds
    const out = await eraseCustomer(app.db.prisma, ext(3));
    expect(out.rows.customer_segments).toBe(6);
    expect(await app.db.prisma.customerSegment.count({ where: { customerId: id } })).toBe(0);
  });

  async function lastScoredAt(): Promise<Date> {
    const [r] = await app.db.prisma.$queryRaw<{ at: Date }[]>`select max(scored_at) as at from scores where model_version_id = ${versionId}`;
    return r!.at;
  }
});
