import type { App } from '../app';
import { configForPayload } from '../embeddings/embed.jobs-payload';
import type { JobRun } from '../generated/prisma/client';
import { EMBED_SEARCHES_JOB } from '../jobs/handlers/embed-searches.job';

/**
 * After the commit: the events are durable even if enqueueing fails (the next run embeds everything pending).
 * With ids: those events; without: one deduplicated backfill (an import can change millions of rows).
 */
export async function enqueueSearchEmbeddings(app: App, ids?: bigint[]): Promise<JobRun | null> {
  if (ids && !ids.length) return null;
  try {
    const config = configForPayload(app.env);
    return ids
      ? await app.queue.enqueue(EMBED_SEARCHES_JOB, { eventIds: ids.map(String), config })
      : await app.queue.enqueue(EMBED_SEARCHES_JOB, { config }, { dedupeKey: EMBED_SEARCHES_JOB });
  } catch (err) {
    app.log.warn({ err: (err as Error).message }, `could not enqueue search embeddings; run \`valuegraph job ${EMBED_SEARCHES_JOB}\``);
    return null;
  }
}
