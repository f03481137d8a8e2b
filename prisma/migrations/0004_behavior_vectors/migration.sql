-- CreateTable
CREATE TABLE "customer_behavior_vectors" (
    "customer_id" INTEGER NOT NULL,
    "feature_set" TEXT NOT NULL,
    "dim" INTEGER NOT NULL,
    "embedding" vector NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "customer_behavior_vectors_pkey" PRIMARY KEY ("customer_id")
);

-- CreateTable
CREATE TABLE "customer_blend_vectors" (
    "customer_id" INTEGER NOT NULL,
    "model" TEXT NOT NULL,
    "dim" INTEGER NOT NULL,
    "embedding" vector NOT NULL,

    CONSTRAINT "customer_blend_vectors_pkey" PRIMARY KEY ("customer_id","model")
);

-- CreateTable
CREATE TABLE "behavior_vector_stats" (
    "feature_set" TEXT NOT NULL,
    "dim" INTEGER NOT NULL,
    "features" JSONB NOT NULL,
    "clip" DOUBLE PRECISION NOT NULL,
    "customer_count" INTEGER NOT NULL,
    "computed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "behavior_vector_stats_pkey" PRIMARY KEY ("feature_set")
);

-- AddForeignKey
ALTER TABLE "customer_behavior_vectors" ADD CONSTRAINT "customer_behavior_vectors_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "customer_blend_vectors" ADD CONSTRAINT "customer_blend_vectors_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written below: HNSW indexes and the triggers that keep customer_blend_vectors.

-- Cosine HNSW over the behaviour vectors, partial per dimension like the embedding indexes (queries cast
-- embedding::vector(32) and filter dim = 32). 32 = the 31 standardized features of
-- src/similarity/behavior-vectors.ts plus the bias component; another dimension gets its own index when vectors
-- of that size are first written (behaviorIndexSql). Defaults m = 16, ef_construction = 64, as for the 384-d
-- profiles: recall@10 about 0.98 at 100,000 customers with ef_search 100 (BENCHMARKS.md, "Similar customers").
CREATE INDEX customer_behavior_vectors_hnsw_32 ON customer_behavior_vectors USING hnsw ((embedding::vector(32)) vector_cosine_ops) WHERE dim = 32;

-- BLEND: inner product over [profile ; behaviour] (384 + 32). Every stored vector has norm sqrt(2), so the graph
-- is a cosine graph; the query [w·q_semantic ; (1 − w)·q_behaviour] makes the inner product 1 − blended distance.
CREATE INDEX customer_blend_vectors_hnsw_416 ON customer_blend_vectors USING hnsw ((embedding::vector(416)) vector_ip_ops) WHERE dim = 416;

-- The blend row of a (customer, model) exists exactly when both halves do, and is their concatenation. Row
-- triggers, so every writer (embedding jobs, behaviour refresh, erasure, cascades) keeps it without knowing.
CREATE FUNCTION customer_blend_from_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM customer_blend_vectors WHERE customer_id = OLD.customer_id AND model = OLD.model;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    DELETE FROM customer_blend_vectors WHERE customer_id = NEW.customer_id AND model = NEW.model;
    INSERT INTO customer_blend_vectors (customer_id, model, dim, embedding)
    SELECT NEW.customer_id, NEW.model, NEW.dim + b.dim, NEW.embedding || b.embedding
    FROM customer_behavior_vectors b WHERE b.customer_id = NEW.customer_id;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION customer_blend_from_behavior() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM customer_blend_vectors WHERE customer_id = OLD.customer_id;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    DELETE FROM customer_blend_vectors WHERE customer_id = NEW.customer_id;
    INSERT INTO customer_blend_vectors (customer_id, model, dim, embedding)
    SELECT p.customer_id, p.model, p.dim + NEW.dim, p.embedding || NEW.embedding
    FROM customer_profile_embeddings p WHERE p.customer_id = NEW.customer_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER customer_blend_from_profile AFTER INSERT OR UPDATE OR DELETE ON customer_profile_embeddings
  FOR EACH ROW EXECUTE FUNCTION customer_blend_from_profile();
CREATE TRIGGER customer_blend_from_behavior AFTER INSERT OR UPDATE OR DELETE ON customer_behavior_vectors
  FOR EACH ROW EXECUTE FUNCTION customer_blend_from_behavior();
