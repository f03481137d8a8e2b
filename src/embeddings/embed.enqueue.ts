import type { App } from '../app';
import type { JobRun } from '../generated/prisma/client';
import { configForPayload } from './embed.jobs-payload';
import { modelKey } from './embedding.config';
import { embeddingConfigFromEnv } from './embedding.config';

/**
 * Enqueue embedding work. With ids (e.g. `changedCommentIds` from ingestComments): those comments. Without:
 * a backfill of everything missing for the current model, deduplicated so concurrent backfills collapse into one.
 */
export function enqueueEmbedComments(app: App, opts: { commentIds?: bigint[]; afterId?: bigint } = {}): Promise<JobRun> {
  const config = configForPayload(app.env);
  const payload = {
    ...(opts.commentIds ? { commentIds: opts.commentIds.map(String) } : {}),
    ...(opts.afterId !== undefined ? { afterId: String(opts.afterId) } : {}),
    config,
  };
  const backfill = !opts.commentIds;
  return app.queue.enqueue('embeddings.embed-comments', payload, backfill ? { dedupeKey: `embeddings.backfill:${modelKey(embeddingConfigFromEnv(app.env))}` } : {});
}
