-- CreateTable
CREATE TABLE "job_blobs" (
    "run_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "data" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "job_blobs_pkey" PRIMARY KEY ("run_id","name","seq")
);
