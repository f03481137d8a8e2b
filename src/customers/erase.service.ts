import type { PrismaClient } from '../generated/prisma/client';
import { DomainError } from '../lib/errors';

export interface EraseResult {
  deleted: boolean;
  /** rows removed per table */
  rows: Record<string, number>;
}

/**
 * Right to erasure: removes a customer and everything derived from them in one transaction. Rather than trusting
 * that every table's foreign key cascades, it finds every table with a customer_id column in the catalog (so a
 * table added later is covered too), deletes from each explicitly, lets cascades take rows keyed indirectly
 * (comment_embeddings via comments), and finally checks that no customer_id table still holds a row; if one does
 * the transaction rolls back.
 */
export async function eraseCustomer(prisma: PrismaClient, externalId: string): Promise<EraseResult> {
  return prisma.$transaction(async (tx) => {
    const [customer] = await tx.$queryRaw<{ id: number }[]>`
      select id from customers where external_id = ${externalId} for update`;
    if (!customer) return { deleted: false, rows: {} };
    const id = Number(customer.id);
    const tables = (
      await tx.$queryRaw<{ table_name: string }[]>`
        select c.table_name::text as table_name from information_schema.columns c
        join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema = current_schema() and c.column_name = 'customer_id' and t.table_type = 'BASE TABLE'
        order by c.table_name`
    ).map((t) => t.table_name);
    const rows: Record<string, number> = {};
    const [embeddings] = await tx.$queryRaw<{ n: bigint }[]>`
      select count(*) as n from comment_embeddings e join comments m on m.id = e.comment_id where m.customer_id = ${id}::int`;
    rows.comment_embeddings = Number(embeddings?.n ?? 0);
    const [eventEmbeddings] = await tx.$queryRaw<{ n: bigint }[]>`
      select count(*) as n from event_embeddings e join events v on v.id = e.event_id where v.customer_id = ${id}::int`;
    rows.event_embeddings = Number(eventEmbeddings?.n ?? 0);
    for (const table of tables) {
      // Identifiers cannot be bind parameters; these come from the catalog and are quoted. The id is bound.
      rows[table] = await tx.$executeRawUnsafe(`delete from ${quoteIdent(table)} where customer_id = $1::int`, id);
    }
    rows.customers = await tx.$executeRaw`delete from customers where id = ${id}::int`;
    for (const table of tables) {
      const [left] = await tx.$queryRawUnsafe<{ n: bigint }[]>(`select count(*) as n from ${quoteIdent(table)} where customer_id = $1::int`, id);
      if (Number(left?.n ?? 0) > 0) throw new DomainError('INTERNAL', `erasure left rows in ${table}; rolled back`);
    }
    return { deleted: true, rows };
  }, { timeout: 60_000, maxWait: 30_000 });
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
