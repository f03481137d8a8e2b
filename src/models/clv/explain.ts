import { FEATURE_NAMES } from '../../features/features.definitions';
import type { Contributions } from '../forest/predict';
import type { Calibration, Design, TargetTransform } from './clv-forest';

/** Column of the stacked BG/NBD CLV in a design row (right after the base features, see MODEL_FEATURES). */
export const BGNBD_CLV_COLUMN = FEATURE_NAMES.length + 2;

/**
 * Per-feature path contributions converted from the forest's target units (log1p money by default) into money
 * over the horizon, so that for every row
 *
 *   Σ_j money[j] = prediction − baseline,   baseline = calibration.forest · back(bias)
 *
 * where prediction is exactly what predictDesign returns. A log-space contribution c_j is scaled by the secant
 * slope of the back-transform between the bias and the row's forest output z, (expm1(z) − expm1(bias)) / (z −
 * bias) = (money moved by the forest) / (sum of log contributions), times the calibration multiplier; the slope
 * is positive whatever the signs, so a feature keeps its direction. For a raw target the slope is 1. The blended
 * BG/NBD term (calibration.bgnbd · stacked CLV) is credited to the stacked BG/NBD CLV feature. (Scores store
 * max(0, prediction): for the rare negative prediction the clipped amount is not attributed.)
 */
export function contributionsInMoney(
  contrib: Contributions,
  design: Pick<Design, 'nCols' | 'baseline'>,
  model: { target: TargetTransform; calibration: Calibration },
): Float64Array {
  const p = design.nCols;
  const n = contrib.values.length / p;
  const out = new Float64Array(contrib.values.length);
  const { forest: cf, bgnbd: cb } = model.calibration;
  for (let r = 0; r < n; r++) {
    let sum = 0;
    for (let j = 0; j < p; j++) sum += contrib.values[r * p + j]!;
    const slope = cf * secantSlope(model.target, contrib.bias, contrib.bias + sum);
    for (let j = 0; j < p; j++) out[r * p + j] = contrib.values[r * p + j]! * slope;
    if (cb) out[r * p + BGNBD_CLV_COLUMN]! += cb * design.baseline.clv[r]!;
  }
  return out;
}

/** Money at the bias alone: what every row's money contributions start from. */
export function moneyBaseline(bias: number, model: { target: TargetTransform; calibration: Calibration }): number {
  return model.calibration.forest * (model.target === 'log1p' ? Math.expm1(bias) : bias);
}

function secantSlope(target: TargetTransform, a: number, b: number): number {
  if (target === 'raw') return 1;
  const d = b - a;
  // Too close for a stable difference quotient: the derivative of expm1 there.
  if (Math.abs(d) < 1e-9) return Math.exp(a);
  return (Math.expm1(b) - Math.expm1(a)) / d;
}
