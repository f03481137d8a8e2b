import { historyBatches } from '../../features/feature-store.service';
import { FEATURE_NAMES } from '../../features/features.definitions';
import { loadSemanticFeatures } from '../../features/semantic.adapter';
import type { ModelVersion, PrismaClient } from '../../generated/prisma/client';
import { DomainError } from '../../lib/errors';
import { type Forest, contributions, deserializeForest } from '../forest';
import { type BaselineFit, rfmOf } from '../clv/clv-baselines';
import { type Calibration, designAt, MODEL_FEATURES, predictDesign, type TargetTransform } from '../clv/clv-forest';
import { contributionsInMoney } from '../clv/explain';
import { MODEL_KIND } from '../training/train.service';
import { noPurchaseProbability } from '../../segments/churn-bands';
import { completeScoringRun, failScoringRun, startScoringRun } from '../../segments/scoring-runs.service';
import { assignTiers } from './tiers';

export interface ScoreOutcome {
  modelVersionId: number;
  scored: number;
  asOf: string;
  scoringRunId: number;
  /** Customers in the run's segments: everyone the version has scored, also after a partial re-score. */
  segmented: number;
}

interface Loaded {
  version: ModelVersion;
  forest: Forest;
  target: TargetTransform;
  calibration: Calibration;
  baselines: BaselineFit;
  extraNames: string[];
}

export async function loadVersion(db: PrismaClient, modelVersionId?: number): Promise<Loaded> {
  let id = modelVersionId;
  if (id === undefined) {
    const champ = await db.modelChampion.findUnique({ where: { kind: MODEL_KIND } });
    if (!champ) throw new DomainError('NOT_FOUND', 'no champion model yet: train one first');
    id = champ.modelVersionId;
  }
  const version = await db.modelVersion.findUnique({ where: { id } });
  if (!version?.artifact || version.status !== 'ready') throw new DomainError('NOT_FOUND', `model version ${id} is not ready`);
  const p = version.params as unknown as { target?: TargetTransform; calibration?: Calibration | number; baselines: BaselineFit };
  const names = version.featureNames as string[];
  const extraNames = names.slice(FEATURE_NAMES.length + MODEL_FEATURES.length);
  return { version, forest: deserializeForest(new Uint8Array(version.artifact)), target: p.target ?? 'log1p', calibration: typeof p.calibration === 'object' ? p.calibration : { forest: p.calibration ?? 1, bgnbd: 0 }, baselines: p.baselines, extraNames };
}

interface Row {
  customer_id: number;
  clv: number;
  p_alive: number | null;
  churn_risk: number | null;
  explanation: { feature: string; contribution: number; value: number }[];
}

/**
 * Scores customers with one model version (the champion by default) as of `asOf`: predicted CLV for the
 * version's horizon, P(alive) and churn risk (probability of no purchase within the horizon) from the BG/NBD fit
 * stored with it, the three features that moved
 * the prediction most (per-tree path contributions, in the model's target units: log1p money by default), and
 * the value tier. Without `customerIds` every customer is scored (a full run); with them (re-scoring after a
 * feature refresh) only those are (a partial run). Either way the run is recorded in scoring_runs and ends by
 * segmenting every customer the version has scored, re-ranked globally in SQL (src/segments/scoring-runs.service.ts),
 * which also sets scores.tier / scores.segment; so tiers stay exact percentiles after partial re-scores.
 */
export async function scoreCustomers(
  db: PrismaClient,
  opts: {
    modelVersionId?: number;
    customerIds?: number[];
    asOf?: Date;
    batchSize?: number;
    jobRunId?: string;
    onProgress?: (fraction: number, message: string) => void;
    signal?: AbortSignal;
  },
): Promise<ScoreOutcome> {
  const m = await loadVersion(db, opts.modelVersionId);
  const asOf = opts.asOf ?? new Date();
  const full = !opts.customerIds;
  const runId = await startScoringRun(db, { modelVersionId: m.version.id, full, jobRunId: opts.jobRunId });
  try {
    const scored = await scoreRows(db, m, asOf, opts);
    opts.onProgress?.(0.95, `scored ${scored}; segmenting`);
    const segmented = await completeScoringRun(db, { runId, modelVersionId: m.version.id, asOf });
    opts.onProgress?.(1, `scored ${scored}, segmented ${segmented}`);
    return { modelVersionId: m.version.id, scored, asOf: asOf.toISOString(), scoringRunId: runId, segmented };
  } catch (err) {
    await failScoringRun(db, runId).catch(() => undefined);
    throw err;
  }
}

/** One batch of customers scored and upserted per (customer, version); tiers only for a full list. Scale-out scores id ranges with it. */
export async function scoreRows(
  db: PrismaClient,
  m: Loaded,
  asOf: Date,
  opts: { customerIds?: number[]; batchSize?: number; onProgress?: (fraction: number, message: string) => void; signal?: AbortSignal },
): Promise<number> {
  const horizon = m.version.horizonDays;
  const total = opts.customerIds?.length ?? (await db.customer.count());
  const rows: Row[] = [];
  for await (const b of historyBatches(db, { before: asOf, customerIds: opts.customerIds, batchSize: opts.batchSize ?? 5000 })) {
    if (opts.signal?.aborted) throw new Error('scoring aborted (worker shutting down)');
    const semantic = m.extraNames.length ? await loadSemanticFeatures(db, { customerIds: b.ids, asOf }) : null;
    const extra = semantic ? new Map([...semantic.values].map(([k, v]) => [String(k), v])) : undefined;
    const d = designAt(b.histories, asOf.getTime(), horizon, m.baselines, extra, m.extraNames);
    const clv = predictDesign(m, d);
    // In money over the horizon (not log1p units), so an explanation reads "+120 from spend_90d".
    const contrib = contributionsInMoney(contributions(m.forest, { data: d.X, nRows: d.keys.length, nCols: d.nCols, layout: 'row' }), d, m);
    const names = m.version.featureNames as string[];
    const seen = new Set<string>();
    const byKey = new Map(b.histories.map((h) => [h.key, h]));
    d.keys.forEach((key, i) => {
      seen.add(key);
      const pAlive = d.baseline.pAlive[i]!;
      // Churn risk = P(no purchase within the horizon) under BG/NBD, not 1 − P(alive): on real data the fitted
      // dropout can vanish and P(alive) sits at 1 for everyone (BENCHMARKS.md "Segments").
      const f = rfmOf(byKey.get(key)!, asOf.getTime())!;
      const churn = noPurchaseProbability(m.baselines.bgnbd, pAlive, f.x, f.T, horizon / 7);
      rows.push({ customer_id: Number(key), clv: Math.max(0, clv[i]!), p_alive: pAlive, churn_risk: Number.isFinite(churn) ? churn : 1 - pAlive, explanation: topContributions(contrib, d.X, i, d.nCols, names) });
    });
    // Customers without a purchase before asOf have nothing to predict from: CLV 0, no churn estimate.
    for (const id of b.ids) if (!seen.has(String(id))) rows.push({ customer_id: id, clv: 0, p_alive: null, churn_risk: null, explanation: [] });
    opts.onProgress?.(Math.min(0.9, (0.9 * rows.length) / Math.max(1, total)), `scored ${rows.length}/${total}`);
  }
  // Full run: exact tiers now (the segment SQL then only touches the rare rows where numeric rounding reorders
  // ties). Partial run: keep each stored tier until the segment SQL re-ranks everyone.
  const tiers = opts.customerIds ? rows.map(() => null) : assignTiers(rows.map((r) => r.clv), rows.map((r) => r.customer_id));
  for (let i = 0; i < rows.length; i += 5000) {
    const json = JSON.stringify(rows.slice(i, i + 5000).map((r, j) => ({ ...r, tier: tiers[i + j] })));
    await db.$executeRaw`
      insert into scores (customer_id, model_version_id, clv, p_alive, churn_risk, tier, explanation, scored_at)
      select r.customer_id, ${m.version.id}, r.clv, r.p_alive, r.churn_risk, r.tier, r.explanation, ${asOf.toISOString()}::timestamptz
      from jsonb_to_recordset(${json}::jsonb) as r(customer_id int, clv numeric, p_alive float8, churn_risk float8, tier text, explanation jsonb)
      on conflict (customer_id, model_version_id) do update set clv = excluded.clv, p_alive = excluded.p_alive,
        churn_risk = excluded.churn_risk, tier = coalesce(excluded.tier, scores.tier), explanation = excluded.explanation, scored_at = excluded.scored_at`;
  }
  return rows.length;
}

function topContributions(values: Float64Array, X: Float64Array, row: number, nCols: number, names: string[], k = 3) {
  const idx = Array.from({ length: nCols }, (_, j) => j).sort((a, b) => Math.abs(values[row * nCols + b]!) - Math.abs(values[row * nCols + a]!));
  return idx.slice(0, k).map((j) => ({ feature: names[j]!, contribution: round(values[row * nCols + j]!), value: round(X[row * nCols + j]!) }));
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;
