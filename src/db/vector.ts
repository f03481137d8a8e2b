import { Prisma } from '../generated/prisma/client';

/**
 * pgvector helpers. Vector columns are untyped `vector` with the dimension stored beside them; queries cast to
 * vector(dim) so the partial HNSW index for that dimension (`... WHERE dim = N`) applies. Type modifiers cannot
 * be bind parameters, so the dimension is inlined after validation; everything else stays a parameter.
 */
export function vectorLiteral(v: ArrayLike<number>): string {
  let s = '[';
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x)) throw new Error(`vector component ${i} is not a finite number`);
    s += (i ? ',' : '') + x;
  }
  return `${s}]`;
}

export function parseVector(text: string): number[] {
  return text.slice(1, -1).split(',').map(Number);
}

export function dimSql(dim: number): Prisma.Sql {
  if (!Number.isInteger(dim) || dim < 1 || dim > 16000) throw new Error(`invalid vector dimension ${dim}`);
  return Prisma.raw(String(dim));
}

/** `embedding::vector(dim)`, the expression the HNSW indexes are built on. */
export function castVector(column: string, dim: number): Prisma.Sql {
  if (!/^[a-z_][a-z0-9_.]*$/.test(column)) throw new Error(`invalid column ${column}`);
  return Prisma.sql`${Prisma.raw(column)}::vector(${dimSql(dim)})`;
}

export function vectorParam(v: ArrayLike<number>, dim: number): Prisma.Sql {
  if (v.length !== dim) throw new Error(`vector has ${v.length} components, expected ${dim}`);
  return Prisma.sql`${vectorLiteral(v)}::vector(${dimSql(dim)})`;
}

/**
 * Statements for the cosine HNSW index of another dimension. 384 comes from the migrations; a model with a
 * different size gets its partial index created on start-up by the API (idempotent).
 */
export function hnswIndexSql(dim: number): string[] {
  const d = dimSql(dim).sql;
  return [
    `create index if not exists comment_embeddings_hnsw_${d} on comment_embeddings using hnsw ((embedding::vector(${d})) vector_cosine_ops) where dim = ${d}`,
    `create index if not exists customer_profile_embeddings_hnsw_${d} on customer_profile_embeddings using hnsw ((embedding::vector(${d})) vector_cosine_ops) where dim = ${d}`,
  ];
}
