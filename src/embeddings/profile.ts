/**
 * Recency weights for a customer's comments: weight halves every `halfLifeDays` before the newest comment.
 * Relative to the newest (not to "now") because the profile is normalised afterwards, so only ratios matter,
 * and this keeps weights away from underflow for customers who went quiet years ago.
 */
export function recencyWeights(dates: Date[], halfLifeDays: number): number[] {
  if (!dates.length) return [];
  if (!(halfLifeDays > 0)) throw new Error('halfLifeDays must be positive');
  const newest = Math.max(...dates.map((d) => d.getTime()));
  const dayMs = 86_400_000;
  return dates.map((d) => Math.pow(0.5, (newest - d.getTime()) / dayMs / halfLifeDays));
}
