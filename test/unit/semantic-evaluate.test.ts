import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CONCEPTS } from '../../src/embeddings/concepts';
import { NO_COMMENT_DAYS } from '../../src/embeddings/semantic-features';
import { type FileComment, readCommentsFile, SEMANTIC_GROUP, semanticFeatureGroup} from '../../src/embeddings/semantic-evaluate.group';
import { makeTinyModel } from '../../scripts/make-tiny-model';
import { DAY_MS } from '../../src/features/features.definitions';
import type { History } from '../../src/models/clv/clv-baselines';
import { evaluateHistories } from '../../src/models/evaluate/evaluate';
import { Mulberry32 } from '../../src/models/forest';
import { KeywordProvider } from './embeddings-fake-provider';

const T0 = Date.UTC(2021, 0, 1);
const CUTOFF = Date.UTC(2021, 8, 1);
const PHRASES = ['love it, excellent', 'parcel was late again', 'too expensive, waiting for a sale', 'will order again soon', 'I want to cancel', 'fine'];

/** Customers whose comments say something about how they buy: happy repeat buyers write the happy phrases. */
function world(n: number): { histories: History[]; comments: Map<string, FileComment[]> } {
  const m = new Mulberry32(11);
  const u = () => m.nextU32() / 4294967296;
  const histories: History[] = [];
  const comments = new Map<string, FileComment[]>();
  for (let c = 0; c < n; c++) {
    const happy = u() < 0.5;
    const gap = (happy ? 15 : 60) * DAY_MS;
    const events = [];
    for (let t = T0 + u() * 60 * DAY_MS; t < T0 + 400 * DAY_MS; t += gap * (0.5 + u())) events.push({ at: t, amount: 30 + u() * 100, kind: 'purchase' as const });
    histories.push({ key: `k${c}`, events, attrs: {} });
    if (c % 4 === 3) continue; // some customers never write
    const list: FileComment[] = [];
    for (let t = T0 + u() * 90 * DAY_MS; t < T0 + 400 * DAY_MS; t += 45 * DAY_MS) list.push({ at: t, text: PHRASES[happy ? Math.floor(u() * 2) * 3 : 1 + Math.floor(u() * 3)]! });
    comments.set(`k${c}`, list);
  }
  return { histories, comments };
}

const opts = { cutoff: CUTOFF, concepts: DEFAULT_CONCEPTS, halfLifeDays: 90 };

describe('file-mode evaluate: semantic features from a comments file', () => {
  it('reads CSV and NDJSON; a bad row is named with its field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-sem-'));
    const csv = path.join(dir, 'c.csv');
    fs.writeFileSync(csv, 'comment_id,customer_id,created_at,text\n1,13085,2010-01-02T10:00:00Z,"late, again"\n2,13085,2010-01-01T10:00:00Z,great\n');
    const r = readCommentsFile(csv);
    expect(r.get('13085')!.map((c) => c.text)).toEqual(['great', 'late, again']); // sorted by time
    const nd = path.join(dir, 'c.ndjson');
    fs.writeFileSync(nd, '{"customer_id":"a","created_at":"2010-01-01","text":"ok"}\n\n{"customer_id":"b","created_at":"2010-01-01","text":""}\n');
    expect(() => readCommentsFile(nd)).toThrow(expect.objectContaining({ details: { issues: [{ row: 2, field: 'text', message: 'missing or empty' }] } }));
    fs.writeFileSync(nd, '{"customer_id":"a","created_at":"yesterday","text":"ok"}\n');
    expect(() => readCommentsFile(nd)).toThrow(/created_at/);
    expect(() => readCommentsFile(path.join(dir, 'none.csv'))).toThrow(/not found/);
  });

  it('embeds only comments before the cutoff, each distinct text once, and is point-in-time', async () => {
    const { histories, comments } = world(40);
    const provider = new KeywordProvider();
    const g = await semanticFeatureGroup(comments, histories, provider, opts);
    expect(g.name).toBe(SEMANTIC_GROUP);
    // Distinct texts before the cutoff plus the concept phrases, nothing else.
    const distinct = new Set([...comments.values()].flatMap((l) => l.filter((c) => c.at < CUTOFF).map((c) => c.text))).size;
    const conceptPhrases = Object.values(DEFAULT_CONCEPTS).flat().length;
    expect(provider.texts).toBe(distinct + conceptPhrases);
    const asOf = T0 + 120 * DAY_MS;
    const at = g.at(asOf);
    expect([...at.keys()].sort()).toEqual(histories.map((h) => h.key).sort());
    for (const h of histories) {
      const f = at.get(h.key)!;
      expect(Object.keys(f).sort()).toEqual([...g.names].sort());
      const before = (comments.get(h.key) ?? []).filter((c) => c.at < asOf);
      expect(f.sem_comment_count).toBe(before.length);
      if (!before.length) expect(f.sem_days_since_last_comment).toBe(NO_COMMENT_DAYS);
      else expect(f.sem_days_since_last_comment).toBeCloseTo((asOf - before[before.length - 1]!.at) / DAY_MS, 6); // Date keeps whole milliseconds
    }
    // A comment written after asOf changes nothing as of asOf.
    const key = [...comments.keys()][0]!;
    const more = new Map(comments);
    more.set(key, [...comments.get(key)!, { at: asOf + DAY_MS, text: 'I want to cancel, terrible' }]);
    const g2 = await semanticFeatureGroup(more, histories, new KeywordProvider(), opts);
    expect(g2.at(asOf).get(key)).toEqual(at.get(key));
    // Happy writers score higher on "satisfied" than unhappy ones: the vectors reach the features.
    const sat = [...at.values()].filter((f) => f.sem_has_comments).map((f) => f.sem_concept_satisfied!);
    expect(Math.max(...sat)).toBeGreaterThan(Math.min(...sat) + 0.1);
  });

  it('no peeking: comments after the cutoff change no prediction', async () => {
    const { histories, comments } = world(160);
    const grid = { targets: ['log1p'], minSamplesLeaf: [10], windows: [3], blend: [false], calibrateOn: ['training'] } as const;
    const run = async (c: Map<string, FileComment[]>) => {
      const g = await semanticFeatureGroup(c, histories, new KeywordProvider(), opts);
      return evaluateHistories(histories, { cutoff: CUTOFF, horizonDays: 60, forest: { nEstimators: 6 }, grid, featureGroups: [g] });
    };
    const a = await run(comments);
    expect(a.featureGroups).toEqual(['behaviour', SEMANTIC_GROUP]);
    const tampered = new Map([...comments].map(([k, l], i) => [k, i % 2 ? l.filter((c) => c.at < CUTOFF) : l.map((c) => (c.at >= CUTOFF ? { ...c, text: 'I want to cancel' } : c))]));
    const b = await run(tampered);
    expect(b.predictions.map((p) => p.forest)).toEqual(a.predictions.map((p) => p.forest));
    // ... while a comment before the cutoff is seen by the forest's features.
    const key = a.predictions[0]!.customer;
    const design = (g: Awaited<ReturnType<typeof semanticFeatureGroup>>) => g.at(CUTOFF).get(key);
    const changed = new Map(comments);
    changed.set(key, [{ at: CUTOFF - DAY_MS, text: 'I want to cancel' }]);
    expect(design(await semanticFeatureGroup(changed, histories, new KeywordProvider(), opts))).not.toEqual(design(await semanticFeatureGroup(comments, histories, new KeywordProvider(), opts)));
  });

  it('valuegraph evaluate --comments runs the configured transformers model (a generated tiny BERT), or says why not', () => {
    // A real CLI process: onnxruntime cannot run inside jest's VM realm.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-sem-model-'));
    makeTinyModel(path.join(dir, 'model'));
    const { histories, comments } = world(60);
    const tx = histories.flatMap((h) => h.events.map((e, i) => `${h.key}-${i},${h.key},${new Date(e.at).toISOString()},${e.amount.toFixed(2)}`));
    fs.writeFileSync(path.join(dir, 't.csv'), `transaction_id,customer_id,occurred_at,amount\n${tx.join('\n')}\n`);
    const lines = [...comments].flatMap(([k, l]) => l.map((c) => JSON.stringify({ customer_id: k, created_at: new Date(c.at).toISOString(), text: c.text })));
    fs.writeFileSync(path.join(dir, 'c.ndjson'), lines.join('\n'));
    const run = (model: string) => {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'evaluate', '--transactions', path.join(dir, 't.csv'), '--cutoff', '2021-09-01', '--horizon-days', '60', '--comments', path.join(dir, 'c.ndjson'), '--trees', '5', '--min-leaf', '10', '--target', 'log1p', '--leaf', 'mean', '--json'],
        { cwd: path.resolve(__dirname, '../..'), encoding: 'utf8', env: { ...process.env, EMBEDDING_PROVIDER: 'transformers', EMBEDDING_MODEL: model, EMBEDDING_DIM: '32', EMBEDDING_ALLOW_REMOTE: 'false', DATABASE_URL: '' }, timeout: 120_000 },
      );
      if (r.status !== 0) throw new Error(`evaluate failed (${r.status}): ${r.stderr}`);
      return JSON.parse(r.stdout) as { meta: { semantic: string; featureGroups: string[] } };
    };
    const before = [...comments.values()].flat().filter((c) => c.at < CUTOFF).length;
    const ok = run(path.join(dir, 'model'));
    expect(ok.meta.featureGroups).toEqual(['behaviour', SEMANTIC_GROUP]);
    expect(ok.meta.semantic).toContain(`from ${before} comments of ${comments.size} customers before the cutoff`);
    const no = run(path.join(dir, 'missing'));
    expect(no.meta.featureGroups).toEqual(['behaviour']);
    expect(no.meta.semantic).toMatch(/^skipped: no embedding model loads here .*missing.*no random substitute/);
  }, 240_000);
});
