/**
 * Event-feature ablation on Online Retail II with SYNTHETIC events (no public data set links clickstream to these
 * customers): `valuegraph evaluate --events` end to end, twice.
 *
 *   npx tsx bench/events-ablation.bench.ts [--file online_retail_II_2009-2010.csv.gz] [--cutoff 2010-06-01] [--horizon-days 180] [--trees 100]
 *
 * Two synthetic event files for the real customers:
 *   intent  browsing precedes buying: before each purchase (at any time, also after the cutoff) 0–5 product views
 *           and sometimes a search in the 7 days before it, plus background page views. Views shortly before the
 *           cutoff therefore announce purchases just after it: the signal is there BY CONSTRUCTION; the run shows
 *           the pipeline carries it into the model, not that real events would help as much.
 *   noise   the same number of events at random times, unrelated to purchases: a leak check — the forest with
 *           these columns must not get better (beyond noise) than without them.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Rng } from '../src/lib/random';
import { readHistories } from '../src/models/evaluate/readers';
import { arg } from './lib/args';

const ROOT = path.resolve(__dirname, '..');
const FILE = arg('file', path.resolve(ROOT, '../shared/data/online-retail-ii/online_retail_II_2009-2010.csv.gz'));
const CUTOFF = arg('cutoff', '2010-06-01');
const HORIZON = arg('horizon-days', '180');
const TREES = arg('trees', '100');
const DAY = 86_400_000;

function writeEvents(file: string, kind: 'intent' | 'noise'): number {
  const rng = new Rng(kind === 'intent' ? 11 : 12);
  const histories = readHistories(FILE, 'online-retail');
  const all = histories.flatMap((h) => h.events.map((e) => e.at));
  const lo = Math.min(...all) - 30 * DAY;
  const hi = Math.max(...all);
  const lines: string[] = [];
  let n = 0;
  for (const h of histories) {
    const buys = h.events.filter((e) => e.kind === 'purchase').map((e) => e.at);
    const emit = (at: number, type: string, extra: Record<string, unknown> = {}) => {
      lines.push(JSON.stringify({ event_id: `${kind}-${n++}`, customer_id: h.key, occurred_at: new Date(at).toISOString(), type, ...extra }));
    };
    if (kind === 'noise') {
      // Independent of the customer's purchases (a count from their purchases would leak post-cutoff ones).
      const count = 4 + rng.int(40);
      for (let i = 0; i < count; i++) emit(lo + rng.next() * (hi - lo), rng.pick(['page_view', 'product_view', 'search', 'like']), { category: `c${rng.int(20)}` });
      continue;
    }
    for (const t of buys) {
      const views = rng.int(6);
      for (let i = 0; i < views; i++) emit(t - rng.next() * 7 * DAY, 'product_view', { category: `c${rng.int(20)}` });
      if (rng.next() < 0.4) emit(t - rng.next() * 7 * DAY, 'search', { text: 'gift' });
    }
    for (let i = 0; i < 4; i++) emit(lo + rng.next() * (hi - lo), 'page_view');
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return lines.length;
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-events-ablation-'));
  try {
    console.log(`cores ${os.cpus().length}, load average ${os.loadavg()[0]!.toFixed(2)}; ${FILE}, cutoff ${CUTOFF}, horizon ${HORIZON} days, ${TREES} trees`);
    for (const kind of ['intent', 'noise'] as const) {
      const file = path.join(tmp, `${kind}.ndjson`);
      const n = writeEvents(file, kind);
      const t = Date.now();
      const r = await promisify(execFile)(
        path.join(ROOT, 'bin/valuegraph'),
        ['evaluate', '--transactions', FILE, '--format', 'online-retail', '--cutoff', CUTOFF, '--horizon-days', HORIZON, '--trees', TREES, '--events', file],
        { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, maxBuffer: 1 << 24 },
      );
      const ablation = r.stdout.slice(r.stdout.indexOf('ablation:'));
      console.log(`\n### ${kind}: ${n.toLocaleString('en-US')} synthetic events (${((Date.now() - t) / 1000).toFixed(0)} s)\n\n${ablation.trim()}`);
    }
    console.log(`\nload average at the end ${os.loadavg()[0]!.toFixed(2)}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
