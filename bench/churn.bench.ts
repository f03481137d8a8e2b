/**
 * Which score ranks churn better: BG/NBD P(alive) (what the churn_risk segments use) or the forest's predicted
 * CLV read as "will buy again"? Holdout on a transaction file with the evaluation's own building blocks
 * (src/models/evaluate: fitted only on events before the cutoff). Event = no purchase in (cutoff, cutoff + H].
 * Reports ROC AUC of each ranking (1 = perfect, 0.5 = random) and the observed churn rate per churn band.
 *
 *   npx tsx bench/churn.bench.ts [--transactions ../shared/data/online-retail-ii/online_retail_II_2009-2010.csv.gz]
 *     [--format online-retail] [--cutoff 2010-06-01] [--horizon-days 180] [--trees 100]
 */
import * as os from 'node:os';
import { DAY_MS } from '../src/features/features.definitions';
import { rfmOf } from '../src/models/clv/clv-baselines';
import { averageRanks } from '../src/models/metrics';
import { evaluateHistories } from '../src/models/evaluate/evaluate';
import { type EvalFormat, readHistories } from '../src/models/evaluate/readers';
import { CHURN_BANDS, churnBand, noPurchaseProbability } from '../src/segments/churn-bands';
import { arg } from './lib/args';

const FILE = arg('transactions', '/work/shared/data/online-retail-ii/online_retail_II_2009-2010.csv.gz');
const FORMAT = arg('format', 'online-retail') as EvalFormat;
const CUTOFF = Date.parse(`${arg('cutoff', '2010-06-01')}T00:00:00Z`);
const H = Number(arg('horizon-days', '180'));
const TREES = Number(arg('trees', '100'));

/** ROC AUC of `score` for the positive class (Mann-Whitney U with average ranks for ties). */
function auc(positive: readonly boolean[], score: readonly number[]): number {
  const ranks = averageRanks(score);
  let n1 = 0;
  let sum = 0;
  positive.forEach((p, i) => {
    if (p) {
      n1++;
      sum += ranks[i]!;
    }
  });
  const n0 = positive.length - n1;
  return (sum - (n1 * (n1 + 1)) / 2) / (n1 * n0);
}

function main(): void {
  const t0 = performance.now();
  const histories = readHistories(FILE, FORMAT);
  const r = evaluateHistories(histories, { cutoff: CUTOFF, horizonDays: H, forest: { nEstimators: TREES, seed: 42 } });
  const byKey = new Map(histories.map((h) => [h.key, h]));
  const end = CUTOFF + H * DAY_MS;
  const churned = r.predictions.map((p) => !byKey.get(p.customer)!.events.some((e) => e.kind === 'purchase' && e.at >= CUTOFF && e.at < end));
  const rate = churned.filter(Boolean).length / churned.length;
  console.log(`cores ${os.cpus().length}, load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}; ${r.customers} customers with a purchase before the cutoff, ${(rate * 100).toFixed(1)}% made none in the ${H} days after (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  const pa = r.predictions.map((p) => p.pAlive).sort((a, b) => a - b);
  const q = (f: number) => pa[Math.min(pa.length - 1, Math.floor(f * pa.length))]!.toFixed(3);
  console.log(`P(alive) quantiles: min ${q(0)}, p10 ${q(0.1)}, median ${q(0.5)}, p90 ${q(0.9)}; BG/NBD ${JSON.stringify(r.model.baselines.bgnbd)}`);
  // BG/NBD's own probability of the event (src/segments/churn-bands.ts noPurchaseProbability).
  const noPurchase = r.predictions.map((p) => {
    const h = byKey.get(p.customer)!;
    const f = rfmOf({ ...h, events: h.events.filter((e) => e.at < CUTOFF) }, CUTOFF)!;
    return noPurchaseProbability(r.model.baselines.bgnbd, p.pAlive, f.x, f.T, H / 7);
  });
  console.log('\n| churn ranking | ROC AUC |\n|---|---:|');
  const rows: [string, number[]][] = [
    ['1 − P(alive) (BG/NBD)', r.predictions.map((p) => 1 - p.pAlive)],
    ['P(no purchase in H) from BG/NBD', noPurchase],
    ['− forest predicted CLV', r.predictions.map((p) => -p.forest)],
    ['− BG/NBD+GG predicted CLV', r.predictions.map((p) => -p.bgnbd)],
    ['− naive predicted CLV', r.predictions.map((p) => -p.naive)],
  ];
  for (const [name, score] of rows) console.log(`| ${name} | ${auc(churned, score).toFixed(3)} |`);
  console.log('\n| churn band | customers by 1 − P(alive) | observed no-purchase rate | customers by P(no purchase in H) | observed no-purchase rate |\n|---|---:|---:|---:|---:|');
  const cell = (risk: number[], band: string) => {
    const idx = risk.flatMap((v, i) => (churnBand(v) === band ? [i] : []));
    return `${idx.length} | ${idx.length ? `${((100 * idx.filter((i) => churned[i]).length) / idx.length).toFixed(1)}%` : '–'}`;
  };
  const dead = r.predictions.map((p) => 1 - p.pAlive);
  for (const b of CHURN_BANDS) console.log(`| ${b.name} | ${cell(dead, b.name)} | ${cell(noPurchase, b.name)} |`);
}

main();
