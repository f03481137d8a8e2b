import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
// node with tsx's loader rather than the tsx wrapper: one process, so SIGKILL really kills the entrypoint.
const LOADER = `file://${path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')}`;

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first pino log line whose msg matches. */
  waitForLog(msg: RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs an entrypoint (src/main.ts, jobs/worker.ts, src/cli.ts) as a real process with the given env. */
export function spawnEntry(entry: string, env: Record<string, string>, args: string[] = []): Proc {
  const child = spawn(process.execPath, ['--import', LOADER, path.join(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (v: Record<string, unknown>) => void }[] = [];
  const onData = (buf: Buffer) => {
    out += buf.toString();
    for (const line of buf.toString().split('\n')) {
      let rec: Record<string, unknown> | undefined;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      for (const w of [...waiters]) {
        if (w.re.test(String(rec?.msg ?? ''))) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(rec!);
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    exited,
    waitForLog(re, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for log ${re}; output:\n${out.slice(-3000)}`)), timeoutMs);
        waiters.push({ re, resolve: (v) => (clearTimeout(t), resolve(v)) });
        void exited.then((code) => reject(new Error(`process exited (${code}) before log ${re}; output:\n${out.slice(-3000)}`)));
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function gql<T = any>(url: string, key: string | undefined, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] } };
}
