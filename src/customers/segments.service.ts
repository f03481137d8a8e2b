import type { PrismaClient } from '../generated/prisma/client';
import { CHAMPION_VERSION_ID } from './champion.sql';

export interface SegmentRow {
  name: string;
  customerCount: number;
  totalClv: string;
  averageClv: string;
}

/** Value segments of the champion model's scores, largest total CLV first. */
export async function listSegments(prisma: PrismaClient): Promise<SegmentRow[]> {
  const rows = await prisma.$queryRaw<{ name: string; n: bigint; total: string; avg: string }[]>`
    select coalesce(segment, tier, 'unsegmented') as name, count(*) as n, sum(clv)::text as total,
      round(avg(clv), 4)::text as avg
    from scores where model_version_id = ${CHAMPION_VERSION_ID}
    group by 1 order by sum(clv) desc, 1`;
  return rows.map((r) => ({ name: r.name, customerCount: Number(r.n), totalClv: r.total, averageClv: r.avg }));
}
