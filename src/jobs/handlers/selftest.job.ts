import { z } from 'zod';
import { defineJob } from '../job.types';

/**
 * Operational smoke test of the job pipeline: burns CPU for a while off the main thread, reports progress,
 * reads the database through whatever connection the transport gave it, and can be told to fail its first
 * attempts to exercise retries. Used by the fault tests and by operators after a deploy.
 */
export const selftestJob = defineJob({
  name: 'system.selftest',
  payload: z.object({
    durationMs: z.number().int().min(0).max(600_000).default(200),
    failAttempts: z.number().int().min(0).max(10).default(0),
    /** Wait instead of burning CPU: holds a worker (tests of what happens when none is free) without slowing the rest. */
    idle: z.boolean().default(false),
  }),
  async handler({ durationMs, failAttempts, idle }, ctx) {
    if (ctx.attempt <= failAttempts) throw new Error(`selftest: planned failure on attempt ${ctx.attempt}`);
    const started = Date.now();
    if (idle) {
      while (Date.now() - started < durationMs) {
        if (ctx.signal.aborted) throw new Error('selftest: aborted by shutdown');
        await new Promise((resolve) => setTimeout(resolve, Math.min(100, durationMs - (Date.now() - started))));
      }
      return { primes: 0, checked: 0, customers: 0, attempt: ctx.attempt };
    }
    let primes = 0;
    let n = 2;
    let lastReport = started;
    while (Date.now() - started < durationMs) {
      if (ctx.signal.aborted) throw new Error('selftest: aborted by shutdown');
      for (let i = 0; i < 20_000; i++, n++) if (isPrime(n)) primes++;
      if (Date.now() - lastReport > 100) {
        lastReport = Date.now();
        ctx.progress(Math.min(0.99, (Date.now() - started) / Math.max(1, durationMs)));
      }
    }
    const [row] = await ctx.db.$queryRaw<{ n: bigint }[]>`select count(*)::bigint as n from customers`;
    ctx.progress(1, 'done');
    return { primes, checked: n - 2, customers: Number(row?.n ?? 0), attempt: ctx.attempt };
  },
});

function isPrime(n: number): boolean {
  if (n < 4) return n > 1;
  if (n % 2 === 0) return false;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
