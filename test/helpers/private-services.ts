import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A PostgreSQL cluster and a Redis server that belong to one test file, so fault tests can stop and restart them
 * without touching the shared services other suites (and other people) are using. Binaries: PostgreSQL 15 from
 * Debian (pgvector installed system-wide works in any cluster of these binaries) and redis-server.
 */

const run = promisify(execFile);
const PG_BIN = process.env.VG_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface PrivatePostgres {
  port: number;
  /** Superuser URL of the cluster's `postgres` database. */
  adminUrl: string;
  /** URL of another database on the cluster. */
  urlFor(db: string): string;
  start(): Promise<void>;
  /** fast: clean shutdown that disconnects clients; immediate: like a crash (recovery on the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the cluster and removes its directory. */
  destroy(): Promise<void>;
}

/** initdb refuses to run as root: then the cluster directory belongs to the postgres user and commands run as it. */
async function asPostgres(cmd: string, args: string[]): Promise<void> {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  await run(file, argv, { timeout: 60_000 });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-pg-'));
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    fs.chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const port = await freePort();
  await asPostgres(path.join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  // Durability off: these clusters hold test data only and live for one file; unix socket inside the directory.
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const pgctl = path.join(PG_BIN, 'pg_ctl');
  const url = (db: string) => `postgresql://postgres@127.0.0.1:${port}/${db}`;
  const pg: PrivatePostgres = {
    port,
    adminUrl: url('postgres'),
    urlFor: url,
    start: () => asPostgres(pgctl, ['-D', data, '-o', opts, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start']),
    stop: (mode = 'fast') => asPostgres(pgctl, ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']),
    async destroy() {
      await pg.stop('immediate').catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await pg.start();
  // A test process that dies without its afterAll must not leave a cluster running.
  process.once('exit', () => {
    try {
      const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', pgctl, '-D', data, '-m', 'immediate', 'stop']] : [pgctl, ['-D', data, '-m', 'immediate', 'stop']];
      execFileSync(file as string, argv as string[], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      /* already stopped */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return pg;
}

export interface PrivateRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  /** Kills the server (SIGKILL): like a crash; nothing persisted (no RDB, no AOF). */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/** redis-server without persistence and with the noeviction policy BullMQ needs; a child of this process. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-redis-'));
  let child: ChildProcess | undefined;
  const r: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', dir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const onData = (b: Buffer) => {
          out += b.toString();
          if (/Ready to accept connections/.test(out)) resolve();
        };
        c.stdout!.on('data', onData);
        c.stderr!.on('data', onData);
        c.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out.slice(-2000)}`)));
        setTimeout(() => reject(new Error(`redis-server did not start: ${out.slice(-2000)}`)), 20_000).unref();
      });
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((res) => c.once('exit', res));
      c.kill('SIGKILL');
      await exited;
    },
    async destroy() {
      await r.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await r.start();
  process.once('exit', () => child?.kill('SIGKILL'));
  return r;
}
