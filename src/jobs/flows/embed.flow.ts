import { z } from 'zod';
import { embedRangeClaimed, pendingRanges } from '../../embeddings/embed-claims';
import { refreshProfiles } from '../../embeddings/embed.service';
import { configPayload, decimalId, resolveConfig } from '../../embeddings/embed.jobs-payload';
import { EmbeddingUnavailableError, getProvider } from '../../embeddings/provider.factory';
import { modelKey } from '../../embeddings/embedding.config';
import { parseEnv } from '../../config/env';
import type { JobContext } from '../job.types';
import { type Handoff, HANDOFF_KEY, addFlow, flowRunId, rollUpProgress } from './flow';
import { deleteBlobs, getBlob, putBlob } from './job-blobs';

/**
 * Embedding fan-out as a BullMQ flow: embeddings.embed-fanout splits the comments lacking a vector into id
 * ranges of equal counts, embeddings.embed-range children embed one range each with row claims (embed-claims.ts:
 * no comment is embedded twice even when ranges of two fan-outs overlap), and embeddings.embed-finish (parent,
 * same run) refreshes the profiles of the customers concerned once every range is done.
 */

export const fanoutPayload = z.object({
  shares: z.number().int().min(1).max(256).default(3),
  chunkSize: z.number().int().min(1).max(1000).default(64),
  refreshProfiles: z.boolean().default(true),
  halfLifeDays: z.number().min(1).max(36_500).optional(),
  config: configPayload.optional(),
});

export const rangePayload = z.object({
  fanoutRunId: z.string().uuid(),
  share: z.number().int().min(0),
  of: z.number().int().min(1),
  afterId: decimalId,
  untilId: decimalId,
  chunkSize: z.number().int().min(1).max(1000),
  config: configPayload.optional(),
});

export const finishPayload = z.object({
  afterId: decimalId,
  untilId: decimalId,
  shares: z.number().int().min(1),
  refreshProfiles: z.boolean(),
  halfLifeDays: z.number().optional(),
  config: configPayload.optional(),
});

const rangeIds = (runId: string, of: number) => Array.from({ length: of }, (_, i) => flowRunId(runId, `range:${i}`));

export async function startEmbedFlow(ctx: JobContext, p: z.infer<typeof fanoutPayload>, useFlow: boolean): Promise<Handoff | Record<string, unknown>> {
  let provider;
  try {
    provider = await getProvider(resolveConfig(p.config));
  } catch (err) {
    if (!(err instanceof EmbeddingUnavailableError)) throw err;
    ctx.progress(1, `skipped: ${err.reason}`);
    return { available: false, reason: err.reason, embedded: 0 };
  }
  if (!useFlow || p.shares <= 1) return embedAllClaimed(ctx, p);
  const ranges = await pendingRanges(ctx.db, provider.model, provider.dim, p.shares);
  if (!ranges.length) return { available: true, embedded: 0 };
  const ids = rangeIds(ctx.runId, ranges.length);
  await addFlow(
    ctx.db,
    {
      runId: ctx.runId,
      name: 'embeddings.embed-finish',
      attempts: 1,
      payload: { afterId: String(ranges[0]!.afterId), untilId: String(ranges.at(-1)!.untilId), shares: ranges.length, refreshProfiles: p.refreshProfiles, halfLifeDays: p.halfLifeDays, config: p.config },
    },
    ranges.map((r, share) => ({
      runId: ids[share]!,
      name: 'embeddings.embed-range',
      attempts: 3,
      payload: { fanoutRunId: ctx.runId, share, of: ranges.length, afterId: String(r.afterId), untilId: String(r.untilId), chunkSize: p.chunkSize, config: p.config } satisfies z.infer<typeof rangePayload>,
    })),
  );
  const total = ranges.reduce((a, r) => a + r.count, 0);
  ctx.progress(0.05, `${total} comments in ${ranges.length} ranges`);
  return { [HANDOFF_KEY]: { flow: 'embeddings.embed-finish', children: ranges.length }, comments: total };
}

/** Without BullMQ (or one share): the same claimed embedding in this one job, then the profiles. */
export async function embedAllClaimed(ctx: JobContext, p: z.infer<typeof fanoutPayload>) {
  const provider = await getProvider(resolveConfig(p.config));
  const [all] = await pendingRanges(ctx.db, provider.model, provider.dim, 1);
  if (!all) return { available: true, model: provider.model, shares: 0, vectors: 0, profilesWritten: 0 };
  await embedRangeClaimed(ctx.db, provider, { afterId: all.afterId, untilId: all.untilId, chunkSize: p.chunkSize, signal: ctx.signal, onProgress: (f, m) => ctx.progress(0.9 * f, m) });
  return finishEmbedFlow(ctx, { afterId: String(all.afterId), untilId: String(all.untilId), shares: 1, refreshProfiles: p.refreshProfiles, halfLifeDays: p.halfLifeDays, config: p.config }, false);
}

export async function embedRange(ctx: JobContext, p: z.infer<typeof rangePayload>) {
  const provider = await getProvider(resolveConfig(p.config));
  const ids = rangeIds(p.fanoutRunId, p.of);
  let last = 0;
  const r = await embedRangeClaimed(ctx.db, provider, {
    afterId: BigInt(p.afterId),
    untilId: BigInt(p.untilId),
    chunkSize: p.chunkSize,
    signal: ctx.signal,
    onProgress: (f, m) => {
      ctx.progress(f, m);
      if (Date.now() - last < 500) return;
      last = Date.now();
      void rollUpProgress(ctx.db, p.fanoutRunId, ids, 0.05, 0.9, 'embedding').catch(() => {});
    },
  });
  await rollUpProgress(ctx.db, p.fanoutRunId, ids, 0.05, 0.9, 'embedding');
  // The parent's proof that this range finished (a range that fails for good leaves none).
  await putBlob(ctx.db, p.fanoutRunId, `range:${p.share}:done`, new Uint8Array(0));
  return { share: p.share, ...r };
}

export async function finishEmbedFlow(ctx: JobContext, p: z.infer<typeof finishPayload>, fromFlow = true) {
  if (fromFlow) {
    const missing: number[] = [];
    for (let share = 0; share < p.shares; share++) if ((await getBlob(ctx.db, ctx.runId, `range:${share}:done`)) === null) missing.push(share);
    await deleteBlobs(ctx.db, ctx.runId);
    if (missing.length) throw new Error(`comment ranges ${missing.join(', ')} of ${p.shares} failed for good; the other ranges' vectors are kept, a new run embeds the rest`);
  }
  // Only the stored model name is needed here: no model load.
  const cfg = resolveConfig(p.config);
  const provider = { model: modelKey(cfg), dim: cfg.dim };
  const [{ n } = { n: 0n }] = await ctx.db.$queryRaw<{ n: bigint }[]>`
    select count(*)::bigint as n from comments c
    join comment_embeddings e on e.comment_id = c.id and e.model = ${provider.model} and e.dim = ${provider.dim} and e.text_hash = c.text_hash
    where c.id > ${BigInt(p.afterId)} and c.id <= ${BigInt(p.untilId)}`;
  let profiles = { customers: 0, written: 0 };
  if (p.refreshProfiles) {
    ctx.progress(0.9, 'refreshing customer profiles');
    const rows = await ctx.db.$queryRaw<{ customer_id: number }[]>`
      select distinct c.customer_id from comments c where c.id > ${BigInt(p.afterId)} and c.id <= ${BigInt(p.untilId)} order by 1`;
    const halfLifeDays = p.halfLifeDays ?? parseEnv(process.env).PROFILE_HALF_LIFE_DAYS;
    profiles = await refreshProfiles(ctx.db, { model: provider.model, dim: provider.dim, halfLifeDays, customerIds: rows.map((r) => Number(r.customer_id)) });
  }
  ctx.progress(1, `${n} comments have vectors; ${profiles.written} profiles written`);
  return { available: true, model: provider.model, shares: p.shares, vectors: Number(n), profilesWritten: profiles.written };
}
