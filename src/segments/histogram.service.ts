import type { PrismaClient } from '../generated/prisma/client';
import { CHAMPION_VERSION_ID } from '../customers/champion.sql';
import { badInput } from '../lib/errors';

export interface HistogramBin {
  lower: number;
  upper: number;
  count: number;
}

export const MAX_BINS = 200;

/**
 * Histogram of the champion's predicted CLV over every scored customer. Linear: `bins` equal-width bins from the
 * smallest to the largest value. Log: `bins` log-spaced bins from the smallest positive value to the largest,
 * plus a first bin [0, 0] for customers predicted exactly 0 (a log axis cannot show 0, and they are often many).
 * Every bin is returned, empty ones too; the last bin includes its upper bound. [] before anything is scored.
 */
export async function clvHistogram(db: PrismaClient, opts: { bins?: number | null; log?: boolean | null }): Promise<HistogramBin[]> {
  const bins = opts.bins ?? 30;
  if (!Number.isInteger(bins) || bins < 1 || bins > MAX_BINS) throw badInput(`bins must be 1..${MAX_BINS}`, [{ field: 'bins', message: `integer 1..${MAX_BINS}` }]);
  const log = opts.log ?? true;
  const [r] = await db.$queryRaw<{ lo: number | null; hi: number | null; pos: number | null; zeros: number }[]>`
    select min(clv)::float8 as lo, max(clv)::float8 as hi, min(clv) filter (where clv > 0)::float8 as pos,
      count(*) filter (where clv <= 0)::int as zeros
    from scores where model_version_id = ${CHAMPION_VERSION_ID}`;
  if (!r || r.hi == null) return [];
  const zeros = Number(r.zeros);
  const lo = log ? r.pos : r.lo;
  const hi = r.hi;
  const out: HistogramBin[] = [];
  if (log && zeros > 0) out.push({ lower: 0, upper: 0, count: zeros });
  if (lo == null) return out; // log scale and nothing positive
  if (lo === hi) {
    const [one] = await db.$queryRaw<{ n: number }[]>`
      select count(*)::int as n from scores where model_version_id = ${CHAMPION_VERSION_ID} and clv::float8 = ${lo}::float8`;
    return [...out, { lower: lo, upper: hi, count: Number(one?.n ?? 0) }];
  }
  const edge = (i: number) => (i === bins ? hi : log ? lo * (hi / lo) ** (i / bins) : lo + ((hi - lo) * i) / bins);
  const counts = new Array<number>(bins).fill(0);
  // width_bucket puts the maximum in bucket bins + 1: least() folds it into the last bin.
  const rows = await (log
    ? db.$queryRaw<{ b: number; n: number }[]>`
        select least(width_bucket(ln(clv::float8), ln(${lo}::float8), ln(${hi}::float8), ${bins}), ${bins}) as b, count(*)::int as n
        from scores where model_version_id = ${CHAMPION_VERSION_ID} and clv > 0 group by 1`
    : db.$queryRaw<{ b: number; n: number }[]>`
        select least(width_bucket(clv::float8, ${lo}::float8, ${hi}::float8, ${bins}), ${bins}) as b, count(*)::int as n
        from scores where model_version_id = ${CHAMPION_VERSION_ID} group by 1`);
  for (const row of rows) {
    const i = Math.max(1, Number(row.b)) - 1;
    counts[i] = counts[i]! + Number(row.n);
  }
  for (let i = 0; i < bins; i++) out.push({ lower: edge(i), upper: edge(i + 1), count: counts[i]! });
  return out;
}
