import { z } from 'zod';
import type { Prisma } from '../../generated/prisma/client';
import { type BaselineFit, type History, MAX_FIT_CUSTOMERS, type Rfm, fitBaselines, rfmOf } from '../../models/clv/clv-baselines';
import { decodeFits, encodeFits } from '../../models/training/train-flow';
import type { JobContext } from '../job.types';
import { flowRunId } from './flow';
import { blobNames, getBlob, putBlob } from './job-blobs';
import { queueJobs } from './train-shares';

/**
 * The BG/NBD + Gamma-Gamma fits of a fan-out training (one per window and one at the cutoff, ≈ 1 s each whatever
 * the number of customers: they use a fixed sample) are the largest serial step after loading. The coordinator
 * hands the second half of them to a models.train-fit job, computes the first half meanwhile, and then takes the
 * job's results — or computes them itself when no worker has started the job, or the job failed: the fits are a
 * pure function of the sample, so whoever computes one gets the same values (fitBaselinesAt's, exactly).
 */

export const fitPayload = z.object({ trainRunId: z.string().uuid(), asOfs: z.array(z.number()) });

const FIELDS = ['x', 'tx', 'T', 'm', 'net', 'tenureDays'] as const;
const sampleName = (asOf: number) => `rfm:${asOf}`;
const fitName = (asOf: number) => `fit:${asOf}`;
const fitJobId = (runId: string) => flowRunId(runId, 'fits');

/** What fitBaselines keeps of fitBaselinesAt's customers (the same stride): fitting this gives the same fit. */
export function fitSample(histories: readonly History[], asOf: number): Rfm[] {
  const all = histories.map((h) => rfmOf(h, asOf)).filter((r): r is Rfm => r !== null);
  const stride = Math.max(1, Math.ceil(all.length / MAX_FIT_CUSTOMERS));
  return stride === 1 ? all : all.filter((_, i) => i % stride === 0);
}

export function encodeRfm(rows: readonly Rfm[]): Buffer {
  const out = new Float64Array(rows.length * FIELDS.length);
  rows.forEach((r, i) => FIELDS.forEach((f, j) => (out[i * FIELDS.length + j] = r[f])));
  return Buffer.from(out.buffer);
}

export function decodeRfm(buf: Buffer): Rfm[] {
  const v = new Float64Array(buf.length / 8);
  Buffer.from(v.buffer).set(buf);
  return Array.from({ length: v.length / FIELDS.length }, (_, i) => Object.fromEntries(FIELDS.map((f, j) => [f, v[i * FIELDS.length + j]!])) as unknown as Rfm);
}

/** Fills `cache` with the fit of every asOf, half of them computed by another worker when one is free. */
export async function prefitBaselines(ctx: JobContext, histories: readonly History[], asOfs: readonly number[], cache: Map<number, BaselineFit>): Promise<void> {
  const own = asOfs.slice(0, Math.ceil(asOfs.length / 2));
  const handed = asOfs.slice(own.length);
  const samples = new Map(handed.map((a) => [a, fitSample(histories, a)]));
  if (handed.length) {
    for (const [a, s] of samples) await putBlob(ctx.db, ctx.runId, sampleName(a), encodeRfm(s));
    await queueJobs(ctx.db, [{ id: fitJobId(ctx.runId), name: 'models.train-fit', attempts: 1, payload: { trainRunId: ctx.runId, asOfs: handed } as Prisma.InputJsonValue }]);
  }
  for (const a of own) cache.set(a, fitBaselines(fitSample(histories, a)));
  if (!handed.length) return;
  for (;;) {
    const run = await ctx.db.jobRun.findUnique({ where: { id: fitJobId(ctx.runId) }, select: { state: true, attempts: true } });
    const names = await blobNames(ctx.db, ctx.runId, 'fit:');
    const ready = handed.filter((a) => names.includes(fitName(a)));
    if (ready.length === handed.length) {
      for (const a of handed) cache.set(a, decodeFits((await getBlob(ctx.db, ctx.runId, fitName(a)))!.toString()).get(a)!);
      return;
    }
    if (!run || run.state === 'failed' || run.state === 'cancelled' || (run.state === 'queued' && run.attempts === 0) || run.state === 'completed') {
      // Nobody on it (or it gave up): computed here, the job finds them done if it starts later.
      for (const a of handed) if (!cache.has(a)) cache.set(a, fitBaselines(samples.get(a)!));
      await putBlob(ctx.db, ctx.runId, fitName(-1), Buffer.from(encodeFits(new Map(handed.map((a) => [a, cache.get(a)!])))));
      return;
    }
    if (ctx.signal.aborted) throw new Error('training aborted (worker shutting down)');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** models.train-fit: the fits of the stored samples, unless the coordinator computed them already. */
export async function fitStoredSamples(ctx: JobContext, p: z.infer<typeof fitPayload>): Promise<{ fits: number; skipped?: string }> {
  let fits = 0;
  for (const a of p.asOfs) {
    if ((await blobNames(ctx.db, p.trainRunId, 'fit:')).includes(fitName(-1))) return { fits, skipped: 'computed by the coordinator' };
    const sample = await getBlob(ctx.db, p.trainRunId, sampleName(a));
    if (!sample) return { fits, skipped: 'run already finished' };
    await putBlob(ctx.db, p.trainRunId, fitName(a), Buffer.from(encodeFits(new Map([[a, fitBaselines(decodeRfm(sample))]]))));
    fits++;
  }
  return { fits };
}
