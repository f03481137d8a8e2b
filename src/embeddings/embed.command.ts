import type { Command } from 'commander';
import type { App } from '../app';
import { waitForRun } from '../jobs/wait';
import { embeddingConfigFromEnv } from './embedding.config';
import { enqueueEmbedComments } from './embed.enqueue';
import { embeddingStatus } from './provider.factory';

type WithApp = <T>(fn: (app: App) => Promise<T>, opts?: { runJobs?: boolean }) => Promise<T>;

/** `valuegraph embed backfill|status`. */
export function registerEmbedCommand(program: Command, withApp: WithApp): void {
  const embed = program.command('embed').description('comment embeddings and customer profile vectors');
  embed
    .command('backfill')
    .description('embed every comment lacking a current vector for the configured model, then refresh profiles')
    .option('--no-wait', 'return after enqueueing')
    .action((o: { wait: boolean }) =>
      withApp(
        async (app) => {
          const run = await enqueueEmbedComments(app);
          console.error(`embedding backfill: job run ${run.id} (${run.state})`);
          if (!o.wait) return;
          const done = await waitForRun(app.db.prisma, run.id, { timeoutMs: 24 * 3_600_000 });
          const r = (done.result ?? {}) as { available?: boolean; reason?: string; embedded?: number; profilesWritten?: number };
          if (done.state === 'failed') {
            console.error(`embedding backfill failed: ${done.error}`);
            process.exitCode = 1;
          } else if (r.available === false) {
            console.error(`semantic features unavailable, nothing embedded: ${r.reason}`);
            process.exitCode = 2;
          } else {
            console.log(`embedded ${r.embedded ?? 0} comments, wrote ${r.profilesWritten ?? 0} customer profiles`);
          }
        },
        { runJobs: true },
      ),
    );
  embed
    .command('status')
    .description('load the configured embedding model and say whether semantic features are available')
    .action(async () =>
      withApp(async (app) => {
        const s = await embeddingStatus(embeddingConfigFromEnv(app.env));
        console.log(JSON.stringify(s));
        if (!s.available) process.exitCode = 2;
      }),
    );
}
