/**
 * Column metadata of the BI views, read from information_schema at export time (the migrated view, not the
 * code, is the truth: a feature set that gained columns still exports what the view has). Pure mapping from
 * PostgreSQL types to export value kinds lives here too.
 */
import type { PrismaClient } from '../generated/prisma/client';
import { DomainError } from '../lib/errors';

type Db = Pick<PrismaClient, '$queryRaw'>;

export const EXPORT_VIEWS = { scores: 'customer_scores', segments: 'customer_segments', features: 'customer_features' } as const;
export type ExportKind = keyof typeof EXPORT_VIEWS;
export const EXPORT_KINDS = Object.keys(EXPORT_VIEWS) as ExportKind[];

/** How a value travels: `decimal` and `numeric_text` arrive as exact text (numeric is cast in SQL). */
export type ValueKind = 'int32' | 'int64' | 'double' | 'decimal' | 'numeric_text' | 'text' | 'timestamp' | 'boolean';

export interface ExportColumn {
  name: string;
  kind: ValueKind;
  /** decimal only: precision ≤ 18 (fits a parquet INT64 DECIMAL) and scale. */
  precision?: number;
  scale?: number;
}

interface InfoRow {
  column_name: string;
  data_type: string;
  numeric_precision: number | null;
  numeric_scale: number | null;
}

export function columnKind(row: InfoRow): ExportColumn {
  const name = row.column_name;
  switch (row.data_type) {
    case 'integer':
    case 'smallint':
      return { name, kind: 'int32' };
    case 'bigint':
      return { name, kind: 'int64' };
    case 'double precision':
    case 'real':
      return { name, kind: 'double' };
    case 'numeric': {
      const p = row.numeric_precision == null ? null : Number(row.numeric_precision);
      const s = row.numeric_scale == null ? null : Number(row.numeric_scale);
      // Unconstrained or wider than int64 numerics stay exact as text.
      return p != null && s != null && p <= 18 ? { name, kind: 'decimal', precision: p, scale: s } : { name, kind: 'numeric_text' };
    }
    case 'timestamp with time zone':
      return { name, kind: 'timestamp' };
    case 'boolean':
      return { name, kind: 'boolean' };
    case 'text':
    case 'character varying':
    case 'character':
      return { name, kind: 'text' };
    default:
      throw new DomainError('INTERNAL', `BI view column ${name} has type ${row.data_type}, which exports do not handle`);
  }
}

export async function viewColumns(db: Db, view: string): Promise<ExportColumn[]> {
  const rows = await db.$queryRaw<InfoRow[]>`
    select column_name::text as column_name, data_type::text as data_type,
      numeric_precision::int as numeric_precision, numeric_scale::int as numeric_scale
    from information_schema.columns where table_schema = 'bi' and table_name = ${view} order by ordinal_position`;
  if (!rows.length) throw new DomainError('UNAVAILABLE', `view bi.${view} does not exist: run the migrations (valuegraph migrate)`);
  return rows.map(columnKind);
}

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Select list: numerics as text so no value passes through a float on the way out. */
export function selectList(columns: readonly ExportColumn[]): string {
  return columns
    .map((c) => (c.kind === 'decimal' || c.kind === 'numeric_text' ? `${quoteIdent(c.name)}::text as ${quoteIdent(c.name)}` : quoteIdent(c.name)))
    .join(', ');
}
