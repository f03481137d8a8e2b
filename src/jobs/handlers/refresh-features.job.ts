import { z } from 'zod';
import { releaseRefreshSlot } from '../../features/feature-refresh.enqueue';
import { refreshStaleFeatures } from '../../features/feature-store.service';
import { DomainError } from '../../lib/errors';
import { refreshBehaviorVectors } from '../../similarity/behavior-vectors.service';
import { scoreCustomers } from '../../models/scoring/score.service';
import { defineJob } from '../job.types';

/**
 * Recomputes the "now" feature snapshot of customers marked stale by ingestion, then re-scores exactly those
 * customers with the champion, so a changed customer gets a new score without waiting for retraining.
 * Enqueued automatically by every ingest that marks customers stale (src/features/feature-refresh.enqueue.ts):
 * it first waits `debounceMs` so a burst of batches lands in this one run, then releases its dedupe key and
 * takes every stale customer (in chunks of `limit`).
 */
export const refreshFeaturesJob = defineJob({
  name: 'features.refresh',
  payload: z.object({
    limit: z.number().int().min(1).max(1_000_000).default(50_000),
    rescore: z.boolean().default(true),
    /** Set by the automatic enqueue (FEATURE_REFRESH_DEBOUNCE_MS); manual runs start at once. */
    debounceMs: z.number().int().min(0).max(600_000).optional(),
  }),
  async handler({ limit, rescore, debounceMs }, ctx) {
    if (debounceMs) {
      ctx.progress(0.01, `waiting ${debounceMs} ms for more batches`);
      await sleep(debounceMs, ctx.signal);
    }
    await releaseRefreshSlot(ctx.db, ctx.runId);
    ctx.progress(0.05, 'recomputing stale features');
    let refreshed = 0;
    let rescored = 0;
    const seen = new Set<number>();
    for (;;) {
      const ids = await refreshStaleFeatures(ctx.db, { limit });
      if (ids.length) await refreshBehaviorVectors(ctx.db, { customerIds: ids }); // similar customers: behaviour vectors follow the snapshots
      // Customers changed again while we computed stay stale on purpose: a later run (already queued by their
      // batch) takes them, so one run never chases a stream of writes forever.
      const fresh = ids.filter((id) => !seen.has(id));
      fresh.forEach((id) => seen.add(id));
      refreshed += fresh.length;
      if (rescore && fresh.length) {
        try {
          rescored += (await scoreCustomers(ctx.db, { customerIds: fresh, jobRunId: ctx.runId, signal: ctx.signal, onProgress: (f, m) => ctx.progress(0.5 + 0.5 * f, m) })).scored;
        } catch (err) {
          // No champion yet is normal before the first training; anything else is a real failure.
          if (!(err instanceof DomainError && err.code === 'NOT_FOUND')) throw err;
        }
      }
      if (ids.length < limit || !fresh.length) break;
    }
    ctx.progress(1, 'done');
    return { refreshed, rescored };
  },
});

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted (worker shutting down)'));
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(new Error('aborted (worker shutting down)'))), { once: true });
  });
}
