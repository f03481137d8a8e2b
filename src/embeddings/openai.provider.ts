import type { EmbeddingConfig, EmbeddingProvider } from './embedding.types';
import { modelKey } from './embedding.config';
import { embedSortedBatches, l2normalize } from './vector-math';

export interface OpenAiOptions {
  url: string;
  apiKey?: string;
  timeoutMs: number;
  maxBatch: number;
  /** Attempts per request (network errors, timeouts, 429 and 5xx are retried with exponential backoff). */
  attempts?: number;
  backoffMs?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Any OpenAI-compatible `POST {url}/embeddings` endpoint (Ollama, vLLM, a hosted API), for users with a GPU
 * server and a bigger model. Vectors are re-normalised: not every server returns unit vectors.
 */
export class OpenAiProvider implements EmbeddingProvider {
  readonly model: string;
  readonly dim: number;
  constructor(
    private readonly cfg: Pick<EmbeddingConfig, 'model' | 'dim'>,
    private readonly o: OpenAiOptions,
  ) {
    this.model = modelKey({ provider: 'openai', model: cfg.model, quantized: true });
    this.dim = cfg.dim;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    return embedSortedBatches(texts, this.o.maxBatch, (b) => this.withRetry(() => this.request(b)));
  }

  private async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    const attempts = this.o.attempts ?? 4;
    const base = this.o.backoffMs ?? 250;
    for (let a = 1; ; a++) {
      try {
        return await fn();
      } catch (err) {
        const retriable = !(err instanceof HttpError) || err.status === 429 || err.status >= 500;
        if (!retriable || a >= attempts) throw err;
        await new Promise((r) => setTimeout(r, base * 2 ** (a - 1) * (0.75 + Math.random() * 0.5)));
      }
    }
  }

  private async request(input: string[]): Promise<Float32Array[]> {
    const url = `${this.o.url.replace(/\/+$/, '')}/embeddings`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}) },
        body: JSON.stringify({ model: this.cfg.model, input }),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      throw new Error(e.name === 'TimeoutError' ? `embedding request to ${url} timed out after ${this.o.timeoutMs} ms` : `embedding request to ${url} failed: ${e.message}`);
    }
    if (!res.ok) throw new HttpError(res.status, `embedding server ${url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const body = (await res.json()) as { data?: { index?: number; embedding: number[] }[] };
    const data = body.data ?? [];
    if (data.length !== input.length) throw new Error(`embedding server returned ${data.length} vectors for ${input.length} texts`);
    const out = new Array<Float32Array>(input.length);
    data.forEach((d, i) => {
      if (d.embedding.length !== this.dim) throw new HttpError(400, `embedding server returned ${d.embedding.length} dimensions, expected ${this.dim}`);
      out[d.index ?? i] = l2normalize(Float32Array.from(d.embedding));
    });
    return out;
  }
}
