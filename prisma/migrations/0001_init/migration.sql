-- CreateExtension
CREATE EXTENSION IF NOT EXISTS "vector";

-- CreateEnum
CREATE TYPE "TransactionKind" AS ENUM ('purchase', 'refund');

-- CreateEnum
CREATE TYPE "CommentSource" AS ENUM ('review', 'social', 'support', 'other');

-- CreateEnum
CREATE TYPE "JobState" AS ENUM ('queued', 'running', 'completed', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "ApiKeyRole" AS ENUM ('reader', 'writer', 'admin');

-- CreateEnum
CREATE TYPE "ModelStatus" AS ENUM ('training', 'ready', 'failed');

-- CreateTable
CREATE TABLE "customers" (
    "id" SERIAL NOT NULL,
    "external_id" TEXT NOT NULL,
    "birth_year" INTEGER,
    "gender" TEXT,
    "region" TEXT,
    "signup_date" TIMESTAMPTZ(3),
    "attributes" JSONB NOT NULL DEFAULT '{}',
    "features_stale_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "customers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "transactions" (
    "id" BIGSERIAL NOT NULL,
    "external_id" TEXT NOT NULL,
    "customer_id" INTEGER NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "amount" DECIMAL(18,4) NOT NULL,
    "currency" CHAR(3) NOT NULL DEFAULT 'USD',
    "quantity" INTEGER NOT NULL DEFAULT 1,
    "product_id" TEXT,
    "category" TEXT,
    "description" TEXT,
    "kind" "TransactionKind" NOT NULL DEFAULT 'purchase',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "comments" (
    "id" BIGSERIAL NOT NULL,
    "external_id" TEXT NOT NULL,
    "customer_id" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "source" "CommentSource" NOT NULL DEFAULT 'other',
    "language" TEXT NOT NULL DEFAULT 'und',
    "text" TEXT NOT NULL,
    "text_hash" CHAR(64) NOT NULL,
    "ingested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "comments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "comment_embeddings" (
    "comment_id" BIGINT NOT NULL,
    "model" TEXT NOT NULL,
    "dim" INTEGER NOT NULL,
    "text_hash" CHAR(64) NOT NULL,
    "embedding" vector NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "comment_embeddings_pkey" PRIMARY KEY ("comment_id","model")
);

-- CreateTable
CREATE TABLE "customer_profile_embeddings" (
    "customer_id" INTEGER NOT NULL,
    "model" TEXT NOT NULL,
    "dim" INTEGER NOT NULL,
    "embedding" vector NOT NULL,
    "comment_count" INTEGER NOT NULL,
    "half_life_days" DOUBLE PRECISION NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "customer_profile_embeddings_pkey" PRIMARY KEY ("customer_id","model")
);

-- CreateTable
CREATE TABLE "feature_snapshots" (
    "id" BIGSERIAL NOT NULL,
    "customer_id" INTEGER NOT NULL,
    "feature_set" TEXT NOT NULL,
    "as_of" TIMESTAMPTZ(3) NOT NULL,
    "is_current" BOOLEAN NOT NULL DEFAULT false,
    "values" JSONB NOT NULL,
    "computed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "feature_snapshots_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model_versions" (
    "id" SERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "status" "ModelStatus" NOT NULL DEFAULT 'training',
    "horizon_days" INTEGER NOT NULL,
    "cutoff" TIMESTAMPTZ(3) NOT NULL,
    "params" JSONB NOT NULL DEFAULT '{}',
    "metrics" JSONB NOT NULL DEFAULT '{}',
    "feature_names" JSONB NOT NULL DEFAULT '[]',
    "feature_importances" JSONB NOT NULL DEFAULT '{}',
    "embedding_model" TEXT,
    "training_rows" INTEGER NOT NULL DEFAULT 0,
    "artifact" BYTEA,
    "artifact_bytes" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "job_run_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "model_versions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model_champions" (
    "kind" TEXT NOT NULL,
    "model_version_id" INTEGER NOT NULL,
    "promoted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_champions_pkey" PRIMARY KEY ("kind")
);

-- CreateTable
CREATE TABLE "scores" (
    "customer_id" INTEGER NOT NULL,
    "model_version_id" INTEGER NOT NULL,
    "clv" DECIMAL(18,4) NOT NULL,
    "p_alive" DOUBLE PRECISION,
    "churn_risk" DOUBLE PRECISION,
    "tier" TEXT,
    "segment" TEXT,
    "explanation" JSONB NOT NULL DEFAULT '[]',
    "scored_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "scores_pkey" PRIMARY KEY ("customer_id","model_version_id")
);

-- CreateTable
CREATE TABLE "job_runs" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "dedupe_key" TEXT,
    "state" "JobState" NOT NULL DEFAULT 'queued',
    "progress" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "message" TEXT,
    "payload" JSONB NOT NULL DEFAULT '{}',
    "result" JSONB,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "max_attempts" INTEGER NOT NULL DEFAULT 3,
    "worker_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "heartbeat_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "job_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "role" "ApiKeyRole" NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" CHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "customers_external_id_key" ON "customers"("external_id");

-- CreateIndex
CREATE INDEX "customers_region_idx" ON "customers"("region");

-- CreateIndex
CREATE INDEX "customers_features_stale_at_idx" ON "customers"("features_stale_at");

-- CreateIndex
CREATE UNIQUE INDEX "transactions_external_id_key" ON "transactions"("external_id");

-- CreateIndex
CREATE INDEX "transactions_customer_id_occurred_at_idx" ON "transactions"("customer_id", "occurred_at");

-- CreateIndex
CREATE INDEX "transactions_occurred_at_idx" ON "transactions"("occurred_at");

-- CreateIndex
CREATE UNIQUE INDEX "comments_external_id_key" ON "comments"("external_id");

-- CreateIndex
CREATE INDEX "comments_customer_id_created_at_idx" ON "comments"("customer_id", "created_at");

-- CreateIndex
CREATE INDEX "feature_snapshots_feature_set_as_of_idx" ON "feature_snapshots"("feature_set", "as_of");

-- CreateIndex
CREATE UNIQUE INDEX "feature_snapshots_customer_id_feature_set_as_of_key" ON "feature_snapshots"("customer_id", "feature_set", "as_of");

-- CreateIndex
CREATE UNIQUE INDEX "feature_snapshots_current_key" ON "feature_snapshots"("customer_id", "feature_set") WHERE ("is_current" = true);

-- CreateIndex
CREATE INDEX "model_versions_kind_created_at_idx" ON "model_versions"("kind", "created_at");

-- CreateIndex
CREATE INDEX "scores_model_version_id_clv_idx" ON "scores"("model_version_id", "clv" DESC);

-- CreateIndex
CREATE INDEX "job_runs_state_created_at_idx" ON "job_runs"("state", "created_at");

-- CreateIndex
CREATE INDEX "job_runs_name_created_at_idx" ON "job_runs"("name", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "job_runs_active_dedupe_key" ON "job_runs"("dedupe_key") WHERE ("finished_at" IS NULL);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys"("hash");

-- AddForeignKey
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "comments" ADD CONSTRAINT "comments_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "comment_embeddings" ADD CONSTRAINT "comment_embeddings_comment_id_fkey" FOREIGN KEY ("comment_id") REFERENCES "comments"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "customer_profile_embeddings" ADD CONSTRAINT "customer_profile_embeddings_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "feature_snapshots" ADD CONSTRAINT "feature_snapshots_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_champions" ADD CONSTRAINT "model_champions_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "scores" ADD CONSTRAINT "scores_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "scores" ADD CONSTRAINT "scores_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
