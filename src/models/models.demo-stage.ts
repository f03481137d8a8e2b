import type { App } from '../app';
import { TRAIN_DEDUPE_KEY } from '../jobs/handlers/train-model.job';
import { waitForRun } from '../jobs/wait';
import { type MetricSet, formatMetricsTable } from './clv/clv-metrics';

/** Demo stages features → train → score: refresh the "now" features, train with a 90-day horizon, print metrics. */
export async function runModelStage(app: App, say: (msg: string) => void): Promise<void> {
  const refresh = await waitForRun(app.db.prisma, (await app.queue.enqueue('features.refresh', {}, { dedupeKey: 'features.refresh' })).id, { timeoutMs: 600_000 });
  say(`features: ${JSON.stringify(refresh.result ?? refresh.error)}`);
  // The sample shop's history ends before today: train as of its last event, not as of now.
  const [last] = await app.db.prisma.$queryRaw<{ at: Date | null }[]>`select max(occurred_at) as at from transactions`;
  const cutoff = last?.at ? new Date(last.at.getTime() + 86_400_000).toISOString() : undefined;
  const run = await app.queue.enqueue('models.train', { horizonDays: 90, cutoff, options: {} }, { dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts: 1 });
  const done = await waitForRun(app.db.prisma, run.id, { timeoutMs: 1_800_000 });
  if (done.state !== 'completed') {
    say(`training failed: ${done.error}`);
    return;
  }
  const r = done.result as { modelVersionId: number; promoted: boolean; reason: string; scored: number };
  say(`model version ${r.modelVersionId}: ${r.promoted ? 'promoted' : 'not promoted'} (${r.reason}); ${r.scored} customers scored`);
  const v = await app.db.prisma.modelVersion.findUnique({ where: { id: r.modelVersionId }, select: { metrics: true } });
  say(`holdout metrics (same customers for every model):\n${formatMetricsTable(v!.metrics as unknown as Record<string, MetricSet>)}`);
}
