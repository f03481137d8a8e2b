/**
 * Embedding throughput: ValueGraph's transformers.js provider (tokenize, sort by length, batch, infer, mean-pool,
 * normalise) against onnxruntime-node driven directly on the same pre-tokenized batches (inference only: a strict
 * baseline), in the same run, alternating so both see the same machine load. Peak RSS of the process reported.
 *
 *   npx tsx bench/embeddings.bench.ts [--model ../shared/models/random-minilm-l6-shape] [--sizes 1000,10000]
 *       [--threads 1,2] [--batch 16] [--reps 2]
 *
 * The model is the MiniLM-L6-shaped int8 ONNX with RANDOM weights (real cost, meaningless vectors).
 */
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';
import type { EmbeddingConfig } from '../src/embeddings/embedding.types';
import { TransformersProvider } from '../src/embeddings/transformers.provider';
import { Rng } from '../src/lib/random';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const modelDir = path.resolve(arg('model', path.join(__dirname, '..', '..', 'shared', 'models', 'random-minilm-l6-shape')));
const sizes = arg('sizes', '1000,10000').split(',').map(Number);
const threadsList = arg('threads', '1,2').split(',').map(Number);
const batchSize = Number(arg('batch', '16'));
const reps = Number(arg('reps', '2'));

/** Realistic review texts: mostly 1–3 sentences (~30–60 tokens), every 12th a long rant (~150–300 tokens). */
function reviews(n: number, seed = 42): string[] {
  const rng = new Rng(seed);
  const openers = ['I ordered the', 'Bought this', 'Got the', 'Received my', 'Second time buying the', 'My wife picked the'];
  const items = ['running shoes', 'winter jacket', 'coffee grinder', 'phone case', 'desk lamp', 'backpack', 'yoga mat', 'kettle', 'headphones', 'wool sweater'];
  const verdicts = [
    'and it is exactly as described, great quality for the price.',
    'but it arrived two weeks late and the box was damaged.',
    'and honestly it broke after three days of normal use.',
    'and the fit is perfect, very comfortable even after a long day.',
    'but the colour is not the same as in the pictures online.',
    'and customer support answered within an hour and sent a replacement.',
    'and I would definitely order again when there is a discount.',
    'but it is far too expensive compared with other shops.',
  ];
  const extras = [
    'Shipping was fast and the packaging was nice.',
    'I had to contact support twice before anyone replied.',
    'Will recommend it to my friends.',
    'The instructions were confusing and partly missing.',
    'Not sure I will shop here again.',
    'Five stars, no complaints at all!',
  ];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let t = `${rng.pick(openers)} ${rng.pick(items)} ${rng.pick(verdicts)}`;
    const k = rng.int(3);
    for (let j = 0; j < k; j++) t += ` ${rng.pick(extras)}`;
    if (i % 12 === 11) for (let j = 0; j < 8 + rng.int(10); j++) t += ` ${rng.pick(verdicts)} ${rng.pick(extras)}`;
    out.push(t);
  }
  return out;
}

const rssMb = () => process.resourceUsage().maxRSS / 1024;

async function main() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const modelFile = path.join(modelDir, 'onnx', 'model_quantized.onnx');
  console.log(`cores: ${os.cpus().length}; load: ${execSync('uptime').toString().trim()}`);
  console.log(`model: ${modelDir} (int8, random weights); batch ${batchSize}; reps ${reps} (best of)`);
  const rows: string[] = [];
  for (const threads of threadsList) {
    const cfg: EmbeddingConfig = { provider: 'transformers', model: modelDir, dim: 384, allowRemote: false, quantized: true, threads, batchSize, openaiTimeoutMs: 0, openaiMaxBatch: 1 };
    const provider = await TransformersProvider.load(cfg);
    const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ['cpu'] });
    for (const n of sizes) {
      const texts = reviews(n);
      // Segments of SEGMENT texts, each run by both sides back to back (alternating who goes first), so both
      // see the same machine load; times are summed over segments and the best of `reps` passes is kept.
      const SEGMENT = 500;
      let tokens = 0;
      let padded = 0;
      const segments = [] as { texts: string[]; feeds: Record<string, InstanceType<typeof ort.Tensor>>[] }[];
      for (let s0 = 0; s0 < n; s0 += SEGMENT) {
        const seg = texts.slice(s0, s0 + SEGMENT);
        // The same batches the provider forms: sorted by length, batchSize each, tokenized by the same tokenizer.
        const sorted = seg.map((_, i) => i).sort((a, b) => seg[a]!.length - seg[b]!.length || a - b);
        const feeds: Record<string, InstanceType<typeof ort.Tensor>>[] = [];
        for (let i = 0; i < sorted.length; i += batchSize) {
          const enc = provider.tokenize(sorted.slice(i, i + batchSize).map((k) => seg[k]!));
          const feed: Record<string, InstanceType<typeof ort.Tensor>> = {};
          for (const name of ['input_ids', 'attention_mask', 'token_type_ids']) feed[name] = new ort.Tensor('int64', enc[name]!.data, enc[name]!.dims);
          for (const m of enc.attention_mask!.data) tokens += Number(m);
          padded += enc.attention_mask!.data.length;
          feeds.push(feed);
        }
        segments.push({ texts: seg, feeds });
      }
      // Warm-up, untimed: onnxruntime allocates its memory arena for each new input shape on first use.
      for (const f of segments[0]!.feeds) await session.run(f);
      await provider.embed(segments[0]!.texts);
      let direct = Infinity;
      let ours = Infinity;
      for (let r = 0; r < reps; r++) {
        let d = 0;
        let o = 0;
        for (const [i, seg] of segments.entries()) {
          const runDirect = async () => {
            const t = performance.now();
            for (const f of seg.feeds) await session.run(f);
            d += performance.now() - t;
          };
          const runOurs = async () => {
            const t = performance.now();
            const vs = await provider.embed(seg.texts);
            o += performance.now() - t;
            if (vs.length !== seg.texts.length || vs[0]!.length !== 384) throw new Error('bad output');
          };
          if ((i + r) % 2 === 0) {
            await runDirect();
            await runOurs();
          } else {
            await runOurs();
            await runDirect();
          }
        }
        direct = Math.min(direct, d / 1000);
        ours = Math.min(ours, o / 1000);
      }
      const line = {
        threads,
        texts: n,
        tokensPerText: +(tokens / n).toFixed(1),
        paddingShare: +(1 - tokens / padded).toFixed(3),
        directPerS: Math.round(n / direct),
        oursPerS: Math.round(n / ours),
        ratio: +(direct / ours).toFixed(3),
        peakRssMb: Math.round(rssMb()),
      };
      console.log(JSON.stringify(line));
      rows.push(`| ${threads} | ${n.toLocaleString('en')} | ${line.tokensPerText} | ${line.directPerS} | ${line.oursPerS} | ${line.ratio.toFixed(2)} | ${line.peakRssMb} |`);
    }
    await provider.close();
    await session.release();
  }
  console.log('\n| threads | texts | tokens/text | direct onnxruntime texts/s | ValueGraph provider texts/s | ratio | peak RSS MB |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
  console.log(`load after: ${execSync('uptime').toString().trim()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
