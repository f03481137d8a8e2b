/**
 * Blind `evaluate` on several cutoffs and data sets in one run: the Online Retail II split and the
 * other splits used to check that the selection method is not fitted to that one holdout. Each row is exactly
 * what `valuegraph evaluate` would print for that file, cutoff and horizon (same code path, in-process).
 *
 *   npx tsx bench/evaluate-blind.bench.ts [--data ../shared/data] [--only orii-2010-06-01] [--json out.json] [--targets log1p,raw] [--leaves mean,median] [--calibrate training,none] [--folds 3] [--rule gini|mae]
 */
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { evaluateHistories } from '../src/models/evaluate/evaluate';
import { type EvalFormat, readHistories } from '../src/models/evaluate/readers';
import { DEFAULT_GRID, type SettingGrid, describeSetting } from '../src/models/evaluate/select-settings';
import { arg } from './lib/args';

const DATA = arg('data', path.resolve(__dirname, '../../shared/data'))!;
const ONLY = arg('only');
/** Fix grid axes for a comparison run, e.g. --targets log1p --leaves median (default: the shipped grid). */
const list = <T>(name: string) => arg(name)?.split(',') as T[] | undefined;
const GRID: SettingGrid = {
  ...DEFAULT_GRID,
  ...(list('targets') ? { targets: list('targets')! } : {}),
  ...(list('leaves') ? { leaves: list('leaves')! } : {}),
  // Other leaves than qrf: also their fitted calibrations (the grid before qrf), unless --calibrate says otherwise.
  ...(list('leaves')?.some((l) => l !== 'qrf') ? { blend: [true, false], calibrateOn: ['training', 'none'] as const } : {}),
  ...(list('calibrate') ? { calibrateOn: list('calibrate')!, blend: [true, false] } : {}),
};

interface Split {
  name: string;
  file: string;
  format: EvalFormat;
  cutoff: string;
  horizonDays: number;
}

const ORII = 'online-retail-ii/online_retail_II_2009-2010.csv.gz';
const SPLITS: Split[] = [
  { name: 'orii-2010-06-01-h180', file: ORII, format: 'online-retail', cutoff: '2010-06-01', horizonDays: 180 },
  { name: 'orii-2010-03-01-h180', file: ORII, format: 'online-retail', cutoff: '2010-03-01', horizonDays: 180 },
  { name: 'orii-2010-09-01-h90', file: ORII, format: 'online-retail', cutoff: '2010-09-01', horizonDays: 90 },
  { name: 'orii-2010-06-01-h90', file: ORII, format: 'online-retail', cutoff: '2010-06-01', horizonDays: 90 },
  { name: 'cdnow-1997-10-01-h273', file: 'cdnow/CDNOW_sample.txt', format: 'cdnow', cutoff: '1997-10-01', horizonDays: 273 },
  { name: 'cdnow-1997-07-01-h180', file: 'cdnow/CDNOW_sample.txt', format: 'cdnow', cutoff: '1997-07-01', horizonDays: 180 },
];

const cache = new Map<string, ReturnType<typeof readHistories>>();
const out: Record<string, unknown>[] = [];
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3));
console.log('| split | forest MAE | BG/NBD MAE | naive MAE | forest Gini | BG/NBD Gini | naive Gini | wins | chosen | s |');
console.log('|---|---:|---:|---:|---:|---:|---:|---|---|---:|');
for (const s of SPLITS) {
  if (ONLY && !s.name.includes(ONLY)) continue;
  const file = path.join(DATA, s.file);
  if (!existsSync(file)) {
    console.log(`| ${s.name} | missing ${file} |`);
    continue;
  }
  let h = cache.get(file);
  if (!h) cache.set(file, (h = readHistories(file, s.format)));
  const t0 = Date.now();
  const r = evaluateHistories(h, { cutoff: Date.parse(`${s.cutoff}T00:00:00Z`), horizonDays: s.horizonDays, forest: { nEstimators: 100, seed: 42 }, grid: GRID, ...(arg('folds') ? { innerFolds: Number(arg('folds')) } : {}), ...(arg('rule') ? { rule: arg('rule') as 'gini' | 'mae' } : {}) });
  const secs = (Date.now() - t0) / 1000;
  const m = r.metrics;
  const beatsMae = m.forest.mae < m.bgnbd_gg.mae && m.forest.mae < m.naive.mae;
  const beatsGini = m.forest.normalizedGini > m.bgnbd_gg.normalizedGini && m.forest.normalizedGini > m.naive.normalizedGini;
  const wins = `${beatsMae ? 'MAE' : '-'}/${beatsGini ? 'Gini' : '-'}`;
  console.log(
    `| ${s.name} | ${fmt(m.forest.mae)} | ${fmt(m.bgnbd_gg.mae)} | ${fmt(m.naive.mae)} | ${m.forest.normalizedGini.toFixed(3)} | ${m.bgnbd_gg.normalizedGini.toFixed(3)} | ${m.naive.normalizedGini.toFixed(3)} | ${wins} | ${describeSetting(r.selection.chosen)} | ${secs.toFixed(0)} |`,
  );
  out.push({ split: s, seconds: secs, metrics: { forest: m.forest, bgnbd_gg: m.bgnbd_gg, naive: m.naive }, chosen: r.selection.chosen, calibration: r.model.calibration, innerBaselines: r.selection.baselines, inner: r.selection.scores });
}
const json = arg('json');
if (json) writeFileSync(json, JSON.stringify(out, null, 1));
