/** A text-embedding model behind one interface: unit-norm vectors of `dim` components, in input order. */
export interface EmbeddingProvider {
  /** The name stored beside every vector; vectors of different names are never compared. */
  readonly model: string;
  readonly dim: number;
  embed(texts: string[]): Promise<Float32Array[]>;
  close?(): Promise<void>;
}

export type ProviderKind = 'transformers' | 'openai' | 'none';

/** Everything needed to build a provider. Secrets (the OpenAI key) are read from the process environment. */
export interface EmbeddingConfig {
  provider: ProviderKind;
  /** Hugging Face id (`Xenova/all-MiniLM-L6-v2`) or a local model directory. */
  model: string;
  dim: number;
  cacheDir?: string;
  allowRemote: boolean;
  quantized: boolean;
  threads: number;
  batchSize: number;
  /** Token limit per text; longer texts are truncated (not chunked). Default 256, capped by model_max_length. */
  maxTokens?: number;
  openaiUrl?: string;
  openaiTimeoutMs: number;
  openaiMaxBatch: number;
}

/** What the API, the demo and the models engineer are told about the configured model. */
export interface EmbeddingStatus {
  provider: ProviderKind;
  model: string;
  dim: number;
  available: boolean;
  reason?: string;
}
