import { createApp } from '../app';
import { createApiKey } from '../auth/api-keys';
import { loadEnvOrExit } from '../config/env';
import { buildHttpServer } from '../graphql/server';
import { ingestComments, ingestCustomers, ingestTransactions } from '../ingest/ingest.service';
import { MAX_BATCH } from '../ingest/ingest.schemas';
import { waitForRun } from '../jobs/wait';
import { createLogger, setRootLogger } from '../lib/logger';
import { onShutdown } from '../lib/shutdown';
import { generateSampleData } from './sample-data';
import { runEmbeddingStage } from '../embeddings/embed.demo-stage';
import { runModelStage } from '../models/models.demo-stage';

/**
 * `npm run demo`: the whole pipeline on the embedded defaults, then the API. Each stage prints what it did;
 * the stages grow as capabilities land (embeddings, features, training, scoring).
 */
export async function runDemo(opts: { customers: number; serve: boolean }): Promise<void> {
  // The demo talks to a person on stdout; logs (including the job threads') only for warnings unless asked.
  const env = { ...loadEnvOrExit(), LOG_LEVEL: (process.env.LOG_LEVEL ?? 'warn') as ReturnType<typeof loadEnvOrExit>['LOG_LEVEL'] };
  const log = createLogger(env.LOG_LEVEL);
  setRootLogger(log);
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const t0 = Date.now();
  const app = await createApp(env, log, { migrate: true, runJobs: true });
  say(`database: ${app.db.backend}${app.db.backend === 'pglite' ? ` (embedded, in ${env.DATA_DIR})` : ''}; jobs: ${app.queue.kind}`);

  const data = generateSampleData({ customers: opts.customers });
  say(`sample shop: ${data.customers.length} customers, ${data.transactions.length} transactions, ${data.comments.length} comments`);
  const ingest = async (label: string, rows: unknown[], fn: (p: typeof app.db.prisma, r: unknown[]) => Promise<{ inserted: number; updated: number; unchanged: number }>) => {
    const s = { inserted: 0, updated: 0, unchanged: 0 };
    for (let i = 0; i < rows.length; i += MAX_BATCH) {
      const r = await fn(app.db.prisma, rows.slice(i, i + MAX_BATCH));
      s.inserted += r.inserted;
      s.updated += r.updated;
      s.unchanged += r.unchanged;
    }
    say(`  ingested ${label}: ${s.inserted} new, ${s.updated} updated, ${s.unchanged} unchanged`);
  };
  await ingest('customers', data.customers, ingestCustomers);
  await ingest('transactions', data.transactions, ingestTransactions);
  await ingest('comments', data.comments, ingestComments);
  await runEmbeddingStage(app, say);
  await runModelStage(app, say);

  const run = await app.queue.enqueue('system.selftest', { durationMs: 300 });
  const done = await waitForRun(app.db.prisma, run.id, { timeoutMs: 120_000 });
  say(`job pipeline self-test: ${done.state} (${JSON.stringify(done.result ?? done.error)})`);

  const { key } = await createApiKey(app.db.prisma, { name: `demo admin ${new Date().toISOString()}`, role: 'admin' });
  say(`pipeline finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  say(`admin API key (shown once): ${key}`);
  if (!opts.serve) {
    await app.close();
    return;
  }
  const http = await buildHttpServer(app);
  const { url } = await http.listen(env.PORT, env.HOST);
  say(`GraphQL API: ${url}`);
  say('try:');
  say(`  curl -s ${url} -H 'content-type: application/json' -H 'authorization: Bearer ${key}' \\`);
  say(`    -d '{"query":"{ health { ok database jobs } jobRuns(first: 3) { name state progress result } }"}'`);
  say('Ctrl-C stops the server.');
  onShutdown(log, env.SHUTDOWN_TIMEOUT_MS + 5000, async () => {
    await http.close();
    await app.close();
  });
}
