import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAiProvider } from '../../src/embeddings/openai.provider';

/** A tiny /v1/embeddings server: vector = [text length, 1, 0]; scripted failures and stalls. */
function server(plan: { failFirst?: number; status?: number; stall?: boolean }) {
  const requests: { input: string[]; auth?: string }[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const { input } = JSON.parse(body) as { input: string[] };
      requests.push({ input, auth: req.headers.authorization });
      if (plan.stall) return; // never answers: the client must time out
      if (requests.length <= (plan.failFirst ?? 0)) {
        res.writeHead(plan.status ?? 503).end('busy');
        return;
      }
      // Reversed order with explicit indexes, as servers may do.
      const data = input.map((t, index) => ({ index, embedding: [t.length, 1, 0] })).reverse();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data }));
    });
  });
  return new Promise<{ url: string; requests: typeof requests; close: () => Promise<void> }>((resolve) =>
    srv.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/v1`,
        requests,
        close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
      }),
    ),
  );
}

const provider = (url: string, o: Partial<ConstructorParameters<typeof OpenAiProvider>[1]> = {}) =>
  new OpenAiProvider({ model: 'nomic-embed-text', dim: 3 }, { url, timeoutMs: 2000, maxBatch: 2, attempts: 3, backoffMs: 5, apiKey: 'k', ...o });

describe('OpenAI-compatible embedding provider', () => {
  it('splits into batches of at most maxBatch, keeps input order and normalises', async () => {
    const s = await server({});
    try {
      const texts = ['aaaa', 'a', 'aaa', 'aa', 'aaaaa'];
      const vs = await provider(s.url).embed(texts);
      expect(s.requests.map((r) => r.input.length)).toEqual([2, 2, 1]);
      expect(s.requests[0]!.auth).toBe('Bearer k');
      vs.forEach((v, i) => {
        const n = Math.hypot(texts[i]!.length, 1);
        expect(v[0]).toBeCloseTo(texts[i]!.length / n, 6);
        expect(Math.hypot(...v)).toBeCloseTo(1, 6);
      });
      expect(provider(s.url).model).toBe('openai:nomic-embed-text');
    } finally {
      await s.close();
    }
  });

  it('retries 5xx answers with backoff and then succeeds', async () => {
    const s = await server({ failFirst: 2 });
    try {
      const [v] = await provider(s.url).embed(['abc']);
      expect(s.requests).toHaveLength(3);
      expect(v![0]).toBeCloseTo(3 / Math.hypot(3, 1), 6);
    } finally {
      await s.close();
    }
  });

  it('gives up after the configured attempts', async () => {
    const s = await server({ failFirst: 10 });
    try {
      await expect(provider(s.url).embed(['abc'])).rejects.toThrow(/answered 503/);
      expect(s.requests).toHaveLength(3);
    } finally {
      await s.close();
    }
  });

  it('does not retry client errors', async () => {
    const s = await server({ failFirst: 10, status: 401 });
    try {
      await expect(provider(s.url).embed(['abc'])).rejects.toThrow(/answered 401/);
      expect(s.requests).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('times out a stalled server, retrying each attempt', async () => {
    const s = await server({ stall: true });
    try {
      await expect(provider(s.url, { timeoutMs: 150, attempts: 2 }).embed(['abc'])).rejects.toThrow(/timed out after 150 ms/);
      expect(s.requests).toHaveLength(2);
    } finally {
      await s.close();
    }
  });

  it('rejects vectors of the wrong dimension without retrying', async () => {
    const s = await server({});
    try {
      const p = new OpenAiProvider({ model: 'm', dim: 4 }, { url: s.url, timeoutMs: 1000, maxBatch: 8, attempts: 3, backoffMs: 5 });
      await expect(p.embed(['x'])).rejects.toThrow(/returned 3 dimensions, expected 4/);
      expect(s.requests).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});
