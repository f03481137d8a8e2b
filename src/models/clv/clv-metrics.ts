import { type CalibrationRow, decileCalibration, mae, normalizedGini, rmse, spearman, topDecileShare } from '../metrics';

export interface MetricSet {
  mae: number;
  rmse: number;
  spearman: number;
  normalizedGini: number;
  topDecileShare: number;
  calibration: CalibrationRow[];
}

export const METRIC_KEYS = ['mae', 'rmse', 'spearman', 'normalizedGini', 'topDecileShare'] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

/** Every metric of one model on one set of customers. */
export function metricSet(actual: ArrayLike<number>, predicted: ArrayLike<number>): MetricSet {
  return {
    mae: mae(actual, predicted),
    rmse: rmse(actual, predicted),
    spearman: spearman(actual, predicted),
    normalizedGini: normalizedGini(actual, predicted),
    topDecileShare: topDecileShare(actual, predicted),
    calibration: decileCalibration(actual, predicted),
  };
}

/** Errors are better low, the rest high. */
export function isBetter(metric: MetricKey, candidate: number, incumbent: number): boolean {
  if (!Number.isFinite(candidate)) return false;
  if (!Number.isFinite(incumbent)) return true;
  return metric === 'mae' || metric === 'rmse' ? candidate < incumbent : candidate > incumbent;
}

/** Plain-text table: one row per model, then each model's decile calibration. */
export function formatMetricsTable(metrics: Record<string, MetricSet>): string {
  const models = Object.keys(metrics);
  const fmt = (v: number | null) => (typeof v !== 'number' || !Number.isFinite(v) ? 'n/a' : Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3));
  const lines = [`| model | ${METRIC_KEYS.join(' | ')} |`, `|---|${METRIC_KEYS.map(() => '---:').join('|')}|`];
  for (const m of models) lines.push(`| ${m} | ${METRIC_KEYS.map((k) => fmt(metrics[m]![k])).join(' | ')} |`);
  lines.push('', `decile calibration (mean predicted / mean actual; decile 10 = highest predictions)`, '');
  lines.push(`| decile | ${models.join(' | ')} |`, `|---:|${models.map(() => '---:').join('|')}|`);
  for (let d = 0; d < 10; d++) {
    lines.push(`| ${d + 1} | ${models.map((m) => {
      const r = metrics[m]!.calibration[d]!;
      return `${fmt(r.meanPredicted)} / ${fmt(r.meanActual)}`;
    }).join(' | ')} |`);
  }
  return lines.join('\n');
}
