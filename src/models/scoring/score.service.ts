import { historyBatches } from '../../features/feature-store.service';
import { FEATURE_NAMES } from '../../features/features.definitions';
import { loadSemanticFeatures } from '../../features/semantic.adapter';
import type { ModelVersion, PrismaClient } from '../../generated/prisma/client';
import { DomainError } from '../../lib/errors';
import { type Forest, contributions, deserializeForest } from '../forest';
import type { BaselineFit } from '../clv/clv-baselines';
import { type Calibration, designAt, MODEL_FEATURES, predictDesign, type TargetTransform } from '../clv/clv-forest';
import { MODEL_KIND } from '../training/train.service';
import { assignTiers } from './tiers';

export interface ScoreOutcome {
  modelVersionId: number;
  scored: number;
  asOf: string;
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
 * version's horizon, P(alive) and churn risk from the BG/NBD fit stored with it, the three features that moved
 * the prediction most (per-tree path contributions, in the model's target units: log1p money by default), and
 * the value tier. Without `customerIds` every customer is scored and tiers are exact percentiles of this run;
 * with them (re-scoring after a feature refresh) the tiers are ranked against the version's stored scores.
 */
export async function scoreCustomers(
  db: PrismaClient,
  opts: { modelVersionId?: number; customerIds?: number[]; asOf?: Date; batchSize?: number; onProgress?: (fraction: number, message: string) => void; signal?: AbortSignal },
): Promise<ScoreOutcome> {
  const m = await loadVersion(db, opts.modelVersionId);
  const asOf = opts.asOf ?? new Date();
  const horizon = m.version.horizonDays;
  const total = opts.customerIds?.length ?? (await db.customer.count());
  const rows: Row[] = [];
  for await (const b of historyBatches(db, { before: asOf, customerIds: opts.customerIds, batchSize: opts.batchSize ?? 5000 })) {
    if (opts.signal?.aborted) throw new Error('scoring aborted (worker shutting down)');
    const semantic = m.extraNames.length ? await loadSemanticFeatures(db, { customerIds: b.ids, asOf }) : null;
    const extra = semantic ? new Map([...semantic.values].map(([k, v]) => [String(k), v])) : undefined;
    const d = designAt(b.histories, asOf.getTime(), horizon, m.baselines, extra, m.extraNames);
    const clv = predictDesign(m, d);
    const contrib = contributions(m.forest, { data: d.X, nRows: d.keys.length, nCols: d.nCols, layout: 'row' }).values;
    const names = m.version.featureNames as string[];
    const seen = new Set<string>();
    d.keys.forEach((key, i) => {
      seen.add(key);
      const pAlive = d.baseline.pAlive[i]!;
      rows.push({ customer_id: Number(key), clv: Math.max(0, clv[i]!), p_alive: pAlive, churn_risk: 1 - pAlive, explanation: topContributions(contrib, d.X, i, d.nCols, names) });
    });
    // Customers without a purchase before asOf have nothing to predict from: CLV 0, no churn estimate.
    for (const id of b.ids) if (!seen.has(String(id))) rows.push({ customer_id: id, clv: 0, p_alive: null, churn_risk: null, explanation: [] });
    opts.onProgress?.(Math.min(0.9, (0.9 * rows.length) / Math.max(1, total)), `scored ${rows.length}/${total}`);
  }
  const tiers = await tiersFor(db, m.version.id, rows, !opts.customerIds);
  for (let i = 0; i < rows.length; i += 5000) {
    const json = JSON.stringify(rows.slice(i, i + 5000).map((r, j) => ({ ...r, tier: tiers[i + j] })));
    await db.$executeRaw`
      insert into scores (customer_id, model_version_id, clv, p_alive, churn_risk, tier, explanation, scored_at)
      select r.customer_id, ${m.version.id}, r.clv, r.p_alive, r.churn_risk, r.tier, r.explanation, ${asOf.toISOString()}::timestamptz
      from jsonb_to_recordset(${json}::jsonb) as r(customer_id int, clv numeric, p_alive float8, churn_risk float8, tier text, explanation jsonb)
      on conflict (customer_id, model_version_id) do update set clv = excluded.clv, p_alive = excluded.p_alive,
        churn_risk = excluded.churn_risk, tier = excluded.tier, explanation = excluded.explanation, scored_at = excluded.scored_at`;
  }
  opts.onProgress?.(1, `scored ${rows.length}`);
  return { modelVersionId: m.version.id, scored: rows.length, asOf: asOf.toISOString() };
}

async function tiersFor(db: PrismaClient, versionId: number, rows: Row[], complete: boolean): Promise<string[]> {
  if (complete) return assignTiers(rows.map((r) => r.clv), rows.map((r) => r.customer_id));
  const mine = new Set(rows.map((r) => r.customer_id));
  const others = await db.$queryRaw<{ customer_id: number; clv: number }[]>`
    select customer_id, clv::float8 as clv from scores where model_version_id = ${versionId}`;
  const all = [...rows.map((r) => ({ id: r.customer_id, clv: r.clv })), ...others.filter((o) => !mine.has(o.customer_id)).map((o) => ({ id: o.customer_id, clv: Number(o.clv) }))];
  return assignTiers(all.map((a) => a.clv), all.map((a) => a.id)).slice(0, rows.length);
}

function topContributions(values: Float64Array, X: Float64Array, row: number, nCols: number, names: string[], k = 3) {
  const idx = Array.from({ length: nCols }, (_, j) => j).sort((a, b) => Math.abs(values[row * nCols + b]!) - Math.abs(values[row * nCols + a]!));
  return idx.slice(0, k).map((j) => ({ feature: names[j]!, contribution: round(values[row * nCols + j]!), value: round(X[row * nCols + j]!) }));
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;
