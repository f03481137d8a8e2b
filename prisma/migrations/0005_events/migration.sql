-- CreateEnum
CREATE TYPE "EventType" AS ENUM ('page_view', 'product_view', 'search', 'add_to_cart', 'like', 'share', 'follow', 'other');

-- CreateTable
CREATE TABLE "events" (
    "id" BIGSERIAL NOT NULL,
    "external_id" TEXT NOT NULL,
    "customer_id" INTEGER NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "type" "EventType" NOT NULL,
    "product_id" TEXT,
    "category" TEXT,
    "text" TEXT,
    "text_hash" CHAR(64),
    "properties" JSONB NOT NULL DEFAULT '{}',
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "event_embeddings" (
    "event_id" BIGINT NOT NULL,
    "model" TEXT NOT NULL,
    "dim" INTEGER NOT NULL,
    "text_hash" CHAR(64) NOT NULL,
    "embedding" vector NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "event_embeddings_pkey" PRIMARY KEY ("event_id","model")
);

-- CreateTable
CREATE TABLE "customer_search_profile_embeddings" (
    "customer_id" INTEGER NOT NULL,
    "model" TEXT NOT NULL,
    "dim" INTEGER NOT NULL,
    "embedding" vector NOT NULL,
    "search_count" INTEGER NOT NULL,
    "half_life_days" DOUBLE PRECISION NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "customer_search_profile_embeddings_pkey" PRIMARY KEY ("customer_id","model")
);

-- CreateIndex
CREATE UNIQUE INDEX "events_external_id_key" ON "events"("external_id");

-- CreateIndex
CREATE INDEX "events_customer_id_occurred_at_idx" ON "events"("customer_id", "occurred_at");

-- CreateIndex
CREATE INDEX "events_occurred_at_idx" ON "events" USING BRIN ("occurred_at");

-- AddForeignKey
ALTER TABLE "events" ADD CONSTRAINT "events_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "event_embeddings" ADD CONSTRAINT "event_embeddings_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "customer_search_profile_embeddings" ADD CONSTRAINT "customer_search_profile_embeddings_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
