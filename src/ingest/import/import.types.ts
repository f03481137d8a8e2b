import type { SourceKind, SourceRecord } from './import.source';

export type Entity = 'customers' | 'transactions' | 'comments' | 'events';
export const ENTITIES: Entity[] = ['customers', 'transactions', 'comments', 'events'];
export const FORMATS = ['generic', 'online-retail', 'cdnow', 'cdnow-sample'] as const;
export type FormatName = (typeof FORMATS)[number];

export interface Issue {
  field: string;
  message: string;
}

/**
 * What a format makes of input lines: a candidate row for the entity's zod schema (one row may stand for
 * several lines, e.g. an invoice), a rejected line with the reasons, or a line skipped on purpose.
 */
export type Emit =
  | { type: 'row'; line: number; lines?: number[]; data: Record<string, unknown>; customerRegion?: string | null; record?: unknown }
  | { type: 'reject'; line: number; lines?: number[]; issues: Issue[]; record?: unknown }
  | { type: 'skip'; line: number; reason: string };

export interface Format {
  readonly name: FormatName;
  readonly entity: Entity;
  /** Forces the reader (CDNOW files are whitespace separated whatever their extension). */
  readonly sourceKind?: SourceKind;
  /** Column names of a headerless layout. */
  readonly positional?: string[];
  map(r: SourceRecord, out: Emit[]): void;
  /** Emits what is still grouped at the end of the file. */
  flush(out: Emit[]): void;
  /** The input column a schema field came from, so rejects name what the user sees in the file. */
  column(field: string): string;
}
