import fs from 'node:fs';
import path from 'node:path';
import type { EmbeddingConfig, EmbeddingProvider } from './embedding.types';
import { modelKey } from './embedding.config';
import { embedSortedBatches, meanPool } from './vector-math';

import type * as HFT from '@huggingface/transformers' with { 'resolution-mode': 'require' };

type HF = typeof HFT;
type Tokenizer = Awaited<ReturnType<HF['AutoTokenizer']['from_pretrained']>>;
type Model = Awaited<ReturnType<HF['AutoModel']['from_pretrained']>>;

const DEFAULT_MAX_TOKENS = 256;

/** A model id that names a directory on disk (absolute, ./relative, or existing) rather than a hub id. */
export function localModelDir(model: string): string | undefined {
  if (path.isAbsolute(model) || model.startsWith('./') || model.startsWith('../')) return path.resolve(model);
  return undefined;
}

/**
 * transformers.js (ONNX Runtime on CPU): tokenizer + encoder, mean pooling over the attention mask, L2 norm.
 * Texts longer than the limit are TRUNCATED (not chunked) to `maxTokens`, default 256 (sentence-transformers'
 * max_seq_length for MiniLM; its tokenizer_config says 512), never beyond the tokenizer's model_max_length:
 * reviews are short, and truncation keeps one forward pass per text with attention cost bounded. We call tokenizer and model ourselves instead of the feature-extraction pipeline to
 * control truncation, pooling and batching, and to stay close to driving onnxruntime directly.
 */
export class TransformersProvider implements EmbeddingProvider {
  readonly model: string;
  readonly dim: number;
  private constructor(
    private readonly cfg: EmbeddingConfig,
    private readonly tokenizer: Tokenizer,
    private readonly encoder: Model,
    readonly maxTokens: number,
  ) {
    this.model = modelKey(cfg);
    this.dim = cfg.dim;
  }

  static async load(cfg: EmbeddingConfig): Promise<TransformersProvider> {
    // Loaded lazily: onnxruntime and sharp are heavy, and processes without the model never need them.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const hf = require('@huggingface/transformers') as HF;
    const local = localModelDir(cfg.model);
    if (local && !fs.existsSync(path.join(local, 'config.json'))) throw new Error(`no model directory at ${local} (config.json missing)`);
    // transformers.js keeps its settings in one global object: set them right before each load.
    hf.env.allowRemoteModels = local ? false : cfg.allowRemote;
    hf.env.allowLocalModels = true;
    if (cfg.cacheDir) hf.env.cacheDir = path.resolve(cfg.cacheDir);
    // A hub id is looked up under the cache dir first, so a model copied there loads offline by its name.
    hf.env.localModelPath = local ? path.dirname(local) : path.resolve(cfg.cacheDir ?? '.');
    const name = local ? path.basename(local) : cfg.model;
    const tokenizer = await hf.AutoTokenizer.from_pretrained(name);
    const encoder = await hf.AutoModel.from_pretrained(name, {
      dtype: cfg.quantized ? 'q8' : 'fp32',
      device: 'cpu',
      session_options: { intraOpNumThreads: cfg.threads, interOpNumThreads: 1 },
    });
    const limit = Number((tokenizer as unknown as { model_max_length?: number }).model_max_length) || 512;
    const p = new TransformersProvider(cfg, tokenizer, encoder, Math.min(cfg.maxTokens ?? DEFAULT_MAX_TOKENS, limit));
    const [probe] = await p.embedBatch(['probe']);
    if (probe!.length !== cfg.dim) {
      await p.close();
      throw new Error(`model ${cfg.model} produces ${probe!.length}-dimensional vectors but EMBEDDING_DIM is ${cfg.dim}`);
    }
    return p;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    return embedSortedBatches(texts, this.cfg.batchSize, (b) => this.embedBatch(b));
  }

  /** Tokenizes a batch the way embed() does; exported for the benchmark's direct-onnxruntime baseline. */
  tokenize(texts: string[]) {
    return this.tokenizer(texts, { padding: true, truncation: true, max_length: this.maxTokens }) as Record<
      string,
      { data: BigInt64Array; dims: number[] }
    >;
  }

  private async embedBatch(texts: string[]): Promise<Float32Array[]> {
    if (!texts.length) return [];
    const enc = this.tokenize(texts.map((t) => (t.trim() ? t : ' ')));
    const out = (await this.encoder(enc)) as { last_hidden_state?: { data: Float32Array; dims: number[] } };
    const h = out.last_hidden_state;
    if (!h) throw new Error(`model ${this.cfg.model} has no last_hidden_state output`);
    const [batch, tokens, dim] = h.dims as [number, number, number];
    return meanPool(h.data, enc.attention_mask!.data, batch, tokens, dim);
  }

  async close(): Promise<void> {
    await (this.encoder as unknown as { dispose?: () => Promise<void> }).dispose?.();
  }
}
