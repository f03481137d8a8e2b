import type { App } from '../app';
import { waitForRun } from '../jobs/wait';
import { embeddingConfigFromEnv } from './embedding.config';
import { enqueueEmbedComments } from './embed.enqueue';
import { embeddingStatus } from './provider.factory';

/**
 * Demo stage: embed the sample comments, or say plainly why semantic features are off. Also the start-up
 * check for the API (`logEmbeddingStatus`), so an operator sees a missing model at boot, not at training time.
 */
export async function runEmbeddingStage(app: App, say: (s: string) => void): Promise<void> {
  const cfg = embeddingConfigFromEnv(app.env);
  const status = await embeddingStatus(cfg);
  if (!status.available) {
    say(`semantic features: OFF. ${status.reason}`);
    say('  ValueGraph continues without them (no random substitute). To enable: copy the model into EMBEDDING_CACHE_DIR,');
    say('  point EMBEDDING_MODEL at a local model directory, or set EMBEDDING_PROVIDER=openai with EMBEDDING_OPENAI_URL.');
    return;
  }
  const t0 = Date.now();
  const run = await enqueueEmbedComments(app);
  const done = await waitForRun(app.db.prisma, run.id, { timeoutMs: 3_600_000 });
  const r = (done.result ?? {}) as { embedded?: number; profilesWritten?: number; reason?: string };
  if (done.state !== 'completed') say(`semantic features: embedding job ${done.state}: ${done.error}`);
  else if (r.reason) say(`semantic features: OFF. ${r.reason}`);
  else say(`embedded ${r.embedded} comments with ${status.model} (${status.dim}-d), ${r.profilesWritten} customer profiles in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

export async function logEmbeddingStatus(app: App): Promise<void> {
  const s = await embeddingStatus(embeddingConfigFromEnv(app.env));
  if (s.available) app.log.info({ model: s.model, dim: s.dim, provider: s.provider }, 'embedding model loaded: semantic features on');
  else app.log.warn({ model: s.model, provider: s.provider, reason: s.reason }, 'semantic features OFF: embedding model unavailable');
}
