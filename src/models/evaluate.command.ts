import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { App } from '../app';
import { badInput } from '../lib/errors';
import { waitForRun } from '../jobs/wait';
import { TRAIN_DEDUPE_KEY } from '../jobs/handlers/train-model.job';
import { semanticGroupForEvaluate } from '../embeddings/semantic-evaluate.group';
import type { Calibration } from './clv/clv-forest';
import { formatMetricsTable } from './clv/clv-metrics';
import { evaluateHistories } from './evaluate/evaluate';
import { DEFAULT_GRID, DEFAULT_INNER_FOLDS, GINI_TIE, type Selection, type SettingGrid, describeSetting, sameSetting } from './evaluate/select-settings';
import { type EvalFormat, readHistories } from './evaluate/readers';
import { formatAblation, runEventAblation } from '../events/event-ablation';

interface EvaluateFlags {
  transactions: string;
  format: EvalFormat;
  cutoff: string;
  horizonDays: string;
  comments?: string;
  events?: string;
  json?: boolean;
  out?: string;
  target: 'auto' | 'log1p' | 'raw';
  leaf: 'auto' | 'mean' | 'median';
  minLeaf?: string;
  innerFolds: string;
  trees: string;
  seed: string;
}

function parseDay(v: string, field: string): number {
  const t = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN;
  if (!Number.isFinite(t)) throw badInput(`invalid --${field}`, [{ field, message: 'expected YYYY-MM-DD' }]);
  return t;
}

/** Fixed axes narrow the blind search; everything left open is chosen by the inner validation. */
function gridOf(o: EvaluateFlags): SettingGrid {
  const minLeaf = o.minLeaf === undefined ? undefined : Number(o.minLeaf);
  if (minLeaf !== undefined && !(Number.isInteger(minLeaf) && minLeaf >= 1)) throw badInput('invalid --min-leaf', [{ field: 'min-leaf', message: 'positive integer' }]);
  return {
    targets: o.target === 'auto' ? DEFAULT_GRID.targets : [o.target],
    leaves: o.leaf === 'auto' ? DEFAULT_GRID.leaves : [o.leaf],
    minSamplesLeaf: minLeaf === undefined ? DEFAULT_GRID.minSamplesLeaf : [minLeaf],
    windows: DEFAULT_GRID.windows,
    // Mean and median leaves of a log1p forest are far off the money scale without the fitted calibration.
    ...(o.leaf === 'mean' || o.leaf === 'median' ? { blend: [true, false], calibrateOn: ['training'] } : { blend: DEFAULT_GRID.blend, calibrateOn: DEFAULT_GRID.calibrateOn }),
  };
}

/** `valuegraph evaluate`: holdout evaluation of the forest and both baselines on a transaction file. */
export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description('train on the history before --cutoff and score the --horizon-days after it: forest vs BG/NBD+GG vs naive')
    .requiredOption('--transactions <file>', 'transactions file (.csv, .txt or .gz)')
    .addOption(new Option('--format <format>', 'file format').choices(['generic', 'online-retail', 'cdnow']).default('generic'))
    .requiredOption('--cutoff <date>', 'YYYY-MM-DD; only events strictly before it are used to fit anything or choose any setting')
    .requiredOption('--horizon-days <n>', 'label window after the cutoff')
    .option('--comments <file>', 'comments file (customer_id, created_at, text; CSV/NDJSON): semantic features with the configured embedding model')
    .option('--events <file>', 'events file (generic NDJSON/CSV): evaluate again with the event features and print both (ablation)')
    .option('--json', 'print one JSON object keyed by model then metric (plus "meta" and "selection")')
    .option('--out <file>', 'write per-customer predictions as CSV')
    .addOption(new Option('--target <t>', 'forest target transform; auto: chosen by the inner validation').choices(['auto', 'log1p', 'raw']).default('auto'))
    .addOption(new Option('--leaf <v>', 'what the forest predicts: mean or median of its leaves, or qrf (median of the labels pooled over the leaves a customer reaches); auto: qrf').choices(['auto', 'mean', 'median', 'qrf']).default('auto'))
    .option('--min-leaf <n>', 'fix the forest min leaf (default: chosen by the inner validation among 5, 10, 20)')
    .option('--inner-folds <n>', 'inner validation periods averaged by the blind selection', String(DEFAULT_INNER_FOLDS))
    .option('--trees <n>', 'trees in the final forest (candidates use at most 50)', '100')
    .option('--seed <n>', 'forest seed', '42')
    .action(async (o: EvaluateFlags) => {
      const cutoff = parseDay(o.cutoff, 'cutoff');
      const horizonDays = Number(o.horizonDays);
      if (!Number.isInteger(horizonDays) || horizonDays < 1) throw badInput('invalid --horizon-days', [{ field: 'horizon-days', message: 'positive integer' }]);
      const grid = gridOf(o);
      const innerFolds = Number(o.innerFolds);
      if (!Number.isInteger(innerFolds) || innerFolds < 1) throw badInput('invalid --inner-folds', [{ field: 'inner-folds', message: 'positive integer' }]);
      const started = Date.now();
      const histories = readHistories(o.transactions, o.format);
      const sem = o.comments
        ? await semanticGroupForEvaluate(o.comments, histories, cutoff, o.json ? undefined : (d, t) => process.stderr.write(`\rembedding comments ${d}/${t}`))
        : null;
      const semantic = !sem ? null : 'reason' in sem ? `skipped: ${sem.reason}` : `${sem.group.name} from ${sem.group.comments} comments of ${sem.group.customers} customers before the cutoff (model ${sem.model})`;
      if (semantic && !o.json) process.stderr.write(`\nsemantic features: ${semantic}\n`);
      const r = evaluateHistories(histories, {
        featureGroups: sem && 'group' in sem ? [sem.group] : [],
        cutoff,
        horizonDays,
        grid,
        innerFolds,
        forest: { nEstimators: Number(o.trees), seed: Number(o.seed) },
        onProgress: o.json ? undefined : (f, m) => process.stderr.write(`\r${(f * 100).toFixed(0).padStart(3)}% ${m.padEnd(40)}`),
      });
      if (!o.json) process.stderr.write('\n');
      const ablation = o.events ? runEventAblation(histories, o.events, { cutoff, horizonDays, grid, forest: { nEstimators: Number(o.trees), seed: Number(o.seed) } }) : null;
      if (o.out) {
        const lines = ['customer,actual,forest,bgnbd_gg,naive,p_alive', ...r.predictions.map((p) => [p.customer, p.actual, p.forest, p.bgnbd, p.naive, p.pAlive].join(','))];
        writeFileSync(o.out, `${lines.join('\n')}\n`);
      }
      const sel = r.selection;
      if (o.json) {
        const meta = {
          customers: r.customers,
          cutoff: r.cutoff,
          horizonDays,
          windowDays: r.windowDays,
          trainingWindows: r.trainingWindows,
          trainingRows: r.trainingRows,
          featureGroups: r.featureGroups,
          calibration: r.model.calibration,
          semantic: semantic ?? 'not requested',
        };
        console.log(JSON.stringify({ ...r.metrics, meta, selection: sel, ...(ablation ? { eventsAblation: ablation } : {}) }));
        return;
      }
      console.log(
        `${r.customers} customers with a purchase before ${r.cutoff.slice(0, 10)}; horizon ${horizonDays} days; forest trained on ` +
          `${r.trainingRows} rows from windows of ${r.windowDays} days as of ${r.trainingWindows.join(', ')} (label scaled ×${(horizonDays / r.windowDays).toFixed(2)}); ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s${semantic ? `; semantic features: ${semantic}` : ''}\n`,
      );
      console.log(formatSelection(sel, r.model.calibration));
      console.log(formatMetricsTable(r.metrics));
      if (ablation) console.log(formatAblation(r.metrics, ablation.metrics, ablation.matched, ablation.customers));
    });
}

function formatSelection(sel: Selection, cal: Calibration): string {
  const fmt = (v: number) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3)) : 'n/a');
  const lines = [`chosen blind: ${describeSetting(sel.chosen)} → prediction = ${cal.forest.toFixed(3)}·forest + ${cal.bgnbd.toFixed(3)}·BG/NBD CLV`];
  if (sel.fallback) lines.push(`(defaults kept: ${sel.fallback})`);
  if (sel.validation) {
    const v = sel.validation;
    lines.push(
      `inner validation before the cutoff: candidates learn from ${v.trainingRows} rows (windows of ${v.windowDays} days as of ${v.trainingWindows.join(', ')}), ` +
        `predict ${v.customers} customers as of ${v.cutoff}, scored on their spend in the ${v.days} days up to the cutoff` +
        `${(v.folds ?? 1) > 1 ? ` (scores averaged with ${v.folds! - 1} earlier period(s) of ${v.days} days, ${Math.max(7, Math.round(v.days / 2))} days apart)` : ''}; ` +
        `among candidates that beat both baselines on both Gini and MAE here (all candidates if none does): best normalized Gini, ties within ${GINI_TIE} broken by MAE`,
      '',
      '| inner validation | normalized Gini | MAE |',
      '|---|---:|---:|',
      ...sel.scores.map((s) => `| ${describeSetting(s.setting)}${sameSetting(s.setting, sel.chosen) ? ' **(chosen)**' : ''} | ${fmt(s.normalizedGini)} | ${fmt(s.mae)} |`),
      `| BG/NBD + Gamma-Gamma | ${fmt(sel.baselines.bgnbd_gg.normalizedGini)} | ${fmt(sel.baselines.bgnbd_gg.mae)} |`,
      `| naive | ${fmt(sel.baselines.naive.normalizedGini)} | ${fmt(sel.baselines.naive.mae)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
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
