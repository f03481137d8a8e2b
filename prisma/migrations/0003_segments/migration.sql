-- CreateTable
CREATE TABLE "scoring_runs" (
    "id" SERIAL NOT NULL,
    "model_version_id" INTEGER NOT NULL,
    "job_run_id" UUID,
    "status" TEXT NOT NULL,
    "full" BOOLEAN NOT NULL,
    "customer_count" INTEGER NOT NULL DEFAULT 0,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "scoring_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "customer_segments" (
    "scoring_run_id" INTEGER NOT NULL,
    "customer_id" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "name" TEXT NOT NULL,

    CONSTRAINT "customer_segments_pkey" PRIMARY KEY ("scoring_run_id","kind","customer_id")
);

-- CreateIndex
CREATE INDEX "scoring_runs_status_finished_at_idx" ON "scoring_runs"("status", "finished_at");

-- CreateIndex
CREATE INDEX "customer_segments_scoring_run_id_kind_name_customer_id_idx" ON "customer_segments"("scoring_run_id", "kind", "name", "customer_id");

-- CreateIndex
CREATE INDEX "customer_segments_customer_id_idx" ON "customer_segments"("customer_id");

-- AddForeignKey
ALTER TABLE "scoring_runs" ADD CONSTRAINT "scoring_runs_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "customer_segments" ADD CONSTRAINT "customer_segments_scoring_run_id_fkey" FOREIGN KEY ("scoring_run_id") REFERENCES "scoring_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "customer_segments" ADD CONSTRAINT "customer_segments_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
