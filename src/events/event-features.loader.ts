import type { PrismaClient } from '../generated/prisma/client';
import type { EventType } from './events.schemas';
import { type BehaviourEvent, EVENT_WINDOWS, eventFeatureRecord } from './event-features';

type Db = Pick<PrismaClient, '$queryRaw'>;

const DAY_MS = 86_400_000;
const LOOKBACK_DAYS = Math.max(...EVENT_WINDOWS);
const CHUNK = 2000;

/**
 * Event features (event-features.ts) of customers as of `asOf`, read from the database. Empty when no event at
 * all exists before asOf: the group is then simply absent (as semantic features are without embeddings), so a
 * shop without event data trains and scores exactly as before. Otherwise every requested customer gets values
 * (zeros / −1 without events), and with `customerIds` unset that means every customer, so training rows and
 * scoring rows see the same encoding.
 */
export async function loadEventFeatures(db: Db, opts: { customerIds?: readonly number[]; asOf: Date }): Promise<Map<number, Record<string, number>>> {
  const out = new Map<number, Record<string, number>>();
  const asOf = opts.asOf.toISOString();
  const [any] = await db.$queryRaw<{ n: boolean }[]>`select exists (select 1 from events where occurred_at < ${asOf}::timestamptz) as n`;
  if (!any?.n) return out;
  let ids = opts.customerIds ? [...opts.customerIds] : undefined;
  if (!ids) ids = (await db.$queryRaw<{ id: number }[]>`select id from customers order by id`).map((r) => Number(r.id));
  const from = new Date(opts.asOf.getTime() - LOOKBACK_DAYS * DAY_MS).toISOString();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const part = ids.slice(i, i + CHUNK);
    const idJson = JSON.stringify(part);
    // Only the longest window's rows travel; older events matter only through the last one's date.
    const rows = await db.$queryRaw<{ customer_id: number; at: Date; type: string; category: string | null }[]>`
      select customer_id, occurred_at as at, type::text as type, category from events
      where customer_id in (select (jsonb_array_elements_text(${idJson}::jsonb))::int)
        and occurred_at >= ${from}::timestamptz and occurred_at < ${asOf}::timestamptz`;
    const lasts = await db.$queryRaw<{ customer_id: number; at: Date }[]>`
      select customer_id, max(occurred_at) as at from events
      where customer_id in (select (jsonb_array_elements_text(${idJson}::jsonb))::int) and occurred_at < ${asOf}::timestamptz
      group by customer_id`;
    const buys = await db.$queryRaw<{ customer_id: number; at: Date }[]>`
      select customer_id, occurred_at as at from transactions
      where customer_id in (select (jsonb_array_elements_text(${idJson}::jsonb))::int) and kind = 'purchase'
        and occurred_at >= ${from}::timestamptz and occurred_at < ${asOf}::timestamptz`;
    const events = new Map<number, BehaviourEvent[]>(part.map((id) => [id, []]));
    const purchases = new Map<number, number[]>(part.map((id) => [id, []]));
    for (const r of rows) events.get(Number(r.customer_id))?.push({ at: new Date(r.at).getTime(), type: r.type as EventType, category: r.category });
    for (const r of lasts) {
      const at = new Date(r.at).getTime();
      // An event older than every window only feeds days_since_last.
      if (at < Date.parse(from)) events.get(Number(r.customer_id))?.push({ at, type: 'other' });
    }
    for (const r of buys) purchases.get(Number(r.customer_id))?.push(new Date(r.at).getTime());
    for (const id of part) out.set(id, eventFeatureRecord(events.get(id)!, purchases.get(id)!, opts.asOf.getTime()));
  }
  return out;
}
