import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { App } from '../app';
import { badInput } from '../lib/errors';
import { waitForRun } from '../jobs/wait';
import { TRAIN_DEDUPE_KEY } from '../jobs/handlers/train-model.job';
import { formatMetricsTable } from './clv/clv-metrics';
import { evaluateHistories } from './evaluate/evaluate';
import { type EvalFormat, readHistories } from './evaluate/readers';

interface EvaluateFlags {
  transactions: string;
  format: EvalFormat;
  cutoff: string;
  horizonDays: string;
  comments?: string;
  json?: boolean;
  out?: string;
  target: 'log1p' | 'raw';
  trees: string;
  seed: string;
}

function parseDay(v: string, field: string): number {
  const t = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN;
  if (!Number.isFinite(t)) throw badInput(`invalid --${field}`, [{ field, message: 'expected YYYY-MM-DD' }]);
  return t;
}

/** `valuegraph evaluate`: holdout evaluation of the forest and both baselines on a transaction file. */
export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description('train on the history before --cutoff and score the --horizon-days after it: forest vs BG/NBD+GG vs naive')
    .requiredOption('--transactions <file>', 'transactions file (.csv, .txt or .gz)')
    .addOption(new Option('--format <format>', 'file format').choices(['generic', 'online-retail', 'cdnow']).default('generic'))
    .requiredOption('--cutoff <date>', 'YYYY-MM-DD; only events strictly before it are used to fit anything')
    .requiredOption('--horizon-days <n>', 'label window after the cutoff')
    .option('--comments <file>', 'comments file (accepted; semantic features need embedded comments in a database, see BENCHMARKS.md)')
    .option('--json', 'print one JSON object keyed by model then metric')
    .option('--out <file>', 'write per-customer predictions as CSV')
    .addOption(new Option('--target <t>', 'forest target transform').choices(['log1p', 'raw']).default('log1p'))
    .option('--trees <n>', 'trees in the forest', '100')
    .option('--seed <n>', 'forest seed', '42')
    .action((o: EvaluateFlags) => {
      const cutoff = parseDay(o.cutoff, 'cutoff');
      const horizonDays = Number(o.horizonDays);
      if (!Number.isInteger(horizonDays) || horizonDays < 1) throw badInput('invalid --horizon-days', [{ field: 'horizon-days', message: 'positive integer' }]);
      const started = Date.now();
      const histories = readHistories(o.transactions, o.format);
      const r = evaluateHistories(histories, {
        cutoff,
        horizonDays,
        target: o.target,
        forest: { nEstimators: Number(o.trees), seed: Number(o.seed) },
        onProgress: o.json ? undefined : (f, m) => process.stderr.write(`\r${(f * 100).toFixed(0).padStart(3)}% ${m.padEnd(40)}`),
      });
      if (!o.json) process.stderr.write('\n');
      if (o.out) {
        const lines = ['customer,actual,forest,bgnbd_gg,naive,p_alive', ...r.predictions.map((p) => [p.customer, p.actual, p.forest, p.bgnbd, p.naive, p.pAlive].join(','))];
        writeFileSync(o.out, `${lines.join('\n')}\n`);
      }
      if (o.json) {
        console.log(JSON.stringify({ ...r.metrics, meta: { customers: r.customers, cutoff: r.cutoff, horizonDays, windowDays: r.windowDays, trainingWindows: r.trainingWindows, trainingRows: r.trainingRows, calibration: r.model.calibration } }));
        return;
      }
      console.log(
        `${r.customers} customers with a purchase before ${r.cutoff.slice(0, 10)}; horizon ${horizonDays} days; forest trained on ` +
          `${r.trainingRows} rows from windows of ${r.windowDays} days as of ${r.trainingWindows.join(', ')} (label scaled ×${(horizonDays / r.windowDays).toFixed(2)}); ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s${o.comments ? '; --comments ignored in file mode (no embedded comments)' : ''}\n`,
      );
      console.log(formatMetricsTable(r.metrics));
    });
}

type WithApp = <T>(fn: (app: App) => Promise<T>, opts?: { runJobs?: boolean; migrate?: boolean }) => Promise<T>;

/** `valuegraph train`: enqueue models.train on the configured database and wait for it. */
export function registerTrainCommand(program: Command, withApp: WithApp): void {
  program
    .command('train')
    .description('train a CLV model version on the database, promote it if it beats the champion, score everyone')
    .option('--horizon-days <n>', 'prediction horizon', '365')
    .option('--cutoff <date>', 'YYYY-MM-DD (default now)')
    .option('--force', 'promote even when it does not beat the champion')
    .action((o: { horizonDays: string; cutoff?: string; force?: boolean }) =>
      withApp(
        async (app) => {
          const payload = { horizonDays: Number(o.horizonDays), ...(o.cutoff ? { cutoff: new Date(parseDay(o.cutoff, 'cutoff')).toISOString() } : {}), options: { force: !!o.force } };
          const run = await app.queue.enqueue('models.train', payload, { dedupeKey: TRAIN_DEDUPE_KEY, maxAttempts: 1 });
          const done = await waitForRun(app.db.prisma, run.id, { timeoutMs: 6 * 3_600_000, onProgress: (r) => process.stderr.write(`\r${(r.progress * 100).toFixed(0)}% ${r.message ?? ''}   `) });
          process.stderr.write('\n');
          console.log(JSON.stringify({ id: done.id, state: done.state, result: done.result, error: done.error }));
          if (done.state === 'failed') process.exitCode = 1;
        },
        { runJobs: true },
      ),
    );
}
