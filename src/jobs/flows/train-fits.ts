import crypto from 'node:crypto';
import type { BaselineFit, History } from '../../models/clv/clv-baselines';
import { fitBaselinesAt } from '../../models/clv/clv-forest';
import { decodeFits, encodeFits } from '../../models/training/train-flow';
import type { JobContext } from '../job.types';
import { claim, claimerStates } from './flow-claims';
import { getBlob, putBlob } from './job-blobs';

/**
 * The BG/NBD + Gamma-Gamma fits of a fan-out training (one per window and one at the cutoff, ≈ 1 s each whatever
 * the number of customers: they use a fixed sample) are the largest serial step after loading. Every participant
 * (the coordinator and each tree job) needs all of them: each claims them in its own rotation, computes those it
 * won and takes the others' from job_blobs, or computes them itself when their claimer died. A fit is a pure
 * function of the histories, so whoever computes one gets fitBaselinesAt's values exactly.
 */

const fitName = (data: string, asOf: number) => `fit:${data}:${asOf}`;
const claimName = (data: string, asOf: number) => `fit-claim:${data}:${asOf}`;

/**
 * Identity of the loaded histories (every customer's key, event count, spend and last event): participants that
 * read different data (written before the cutoff meanwhile) never take each other's fits.
 */
export function historiesId(histories: readonly History[]): string {
  const h = crypto.createHash('sha256');
  for (const c of histories) {
    let spend = 0;
    let last = 0;
    for (const e of c.events) {
      spend += e.amount;
      last = Math.max(last, e.at);
    }
    h.update(`${c.key}:${c.events.length}:${spend}:${last};`);
  }
  return h.digest('hex').slice(0, 16);
}
const POLL_MS = 100;

/** Fills `cache` with the fit of every asOf; participant `slot` of `of` starts at its own place in the list. */
export async function shareFits(
  ctx: JobContext,
  flowRun: string,
  histories: readonly History[],
  asOfs: readonly number[],
  slot: { index: number; of: number },
  cache: Map<number, BaselineFit>,
): Promise<void> {
  const start = Math.floor((slot.index * asOfs.length) / Math.max(1, slot.of));
  const order = [...asOfs.slice(start), ...asOfs.slice(0, start)];
  const data = historiesId(histories);
  const compute = async (a: number) => {
    cache.set(a, fitBaselinesAt(histories, a));
    ctx.progress(0, `fitted the baselines as of ${new Date(a).toISOString().slice(0, 10)}`);
    await putBlob(ctx.db, flowRun, fitName(data, a), Buffer.from(encodeFits(new Map([[a, cache.get(a)!]]))));
  };
  const take = async (a: number) => {
    const blob = await getBlob(ctx.db, flowRun, fitName(data, a));
    if (blob) cache.set(a, decodeFits(blob.toString()).get(a)!);
    return Boolean(blob);
  };
  const others = new Map<number, string>();
  for (const a of order) {
    if (cache.has(a) || (await take(a))) continue;
    const owner = await claim(ctx.db, flowRun, claimName(data, a), ctx.runId);
    if (owner === ctx.runId) await compute(a);
    else others.set(a, owner);
  }
  while (others.size) {
    if (ctx.signal.aborted) throw new Error('training aborted (worker shutting down)');
    const states = await claimerStates(ctx.db, [...others.values()]);
    for (const [a, owner] of others) {
      if (await take(a)) others.delete(a);
      else if (states.get(owner) !== 'working') {
        await compute(a);
        others.delete(a);
      }
    }
    if (others.size) await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
