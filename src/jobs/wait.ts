import type { JobRun, PrismaClient } from '../generated/prisma/client';
import { getRun } from './job-runs';

/** Polls a run until it completes or fails (CLI, demo and tests; the API itself never blocks on a job). */
export async function waitForRun(
  prisma: PrismaClient,
  id: string,
  opts: { timeoutMs: number; pollMs?: number; onProgress?: (run: JobRun) => void },
): Promise<JobRun> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const run = await getRun(prisma, id);
    if (run.state === 'completed' || run.state === 'failed' || run.state === 'cancelled') return run;
    opts.onProgress?.(run);
    if (Date.now() > deadline) throw new Error(`job run ${id} still ${run.state} after ${opts.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
  }
}
