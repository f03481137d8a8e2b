import type { PrismaClient } from '../generated/prisma/client';
import { type SegmentKind, kindName } from './segments.service';

export interface SegmentTransitionsResult {
  kind: SegmentKind;
  fromRunId: string | null;
  toRunId: string;
  moved: number;
  cells: { from: string | null; to: string; count: number }[];
}

/**
 * Transition matrix of one kind between the two latest completed scoring runs (full or partial, in finish
 * order): one cell per (previous segment, current segment) with customers in it; from = null for customers
 * the previous run did not segment (new customers, or no RFM segment before their first purchase). `moved`
 * counts customers whose segment changed; new ones are not moves. Customers erased since are in neither run.
 */
export async function segmentTransitions(db: PrismaClient, kind: SegmentKind): Promise<SegmentTransitionsResult | null> {
  const k = kindName(kind);
  const runs = await db.$queryRaw<{ id: number }[]>`
    select id::int as id from scoring_runs where status = 'completed' order by finished_at desc, id desc limit 2`;
  const to = runs[0]?.id;
  if (to === undefined) return null;
  const from = runs[1]?.id ?? null;
  const cells = await db.$queryRaw<{ from: string | null; to: string; n: number }[]>`
    select p.name as "from", c.name as "to", count(*)::int as n
    from customer_segments c
    left join customer_segments p on p.scoring_run_id = ${from ?? -1}::int and p.kind = c.kind and p.customer_id = c.customer_id
    where c.scoring_run_id = ${to}::int and c.kind = ${k}
    group by 1, 2 order by 1 nulls first, 2`;
  const out = cells.map((c) => ({ from: c.from, to: c.to, count: Number(c.n) }));
  return {
    kind,
    fromRunId: from === null ? null : String(from),
    toRunId: String(to),
    moved: out.filter((c) => c.from !== null && c.from !== c.to).reduce((s, c) => s + c.count, 0),
    cells: out,
  };
}
