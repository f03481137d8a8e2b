-- Hand-written: schema.prisma cannot declare HNSW indexes (src/db/schema-diff.ts ignores drops of indexes
-- named *_hnsw_<dim> should the engine ever propose them).
-- The vector columns are untyped `vector` (the dimension is in `dim`, so a model of another size needs no
-- schema change); HNSW needs a fixed dimension, hence partial expression indexes per dimension. Queries use
-- them only when they repeat the expression and the predicate: `embedding::vector(384) <=> $q::vector(384)`
-- with `WHERE dim = 384`. Other dimensions get the same pair at start-up (src/db/vector.ts, hnswIndexSql).

-- CreateIndex
CREATE INDEX comment_embeddings_hnsw_384 ON comment_embeddings USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dim = 384;

-- CreateIndex
CREATE INDEX customer_profile_embeddings_hnsw_384 ON customer_profile_embeddings USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dim = 384;
