import type { PrismaClient } from '../../generated/prisma/client';

/**
 * Binary values handed between the jobs of a flow (job_blobs), keyed by the run owning the flow. Values are cut
 * into parts so no single bytea (1 GB limit) or query parameter grows with the data set.
 */
const PART_BYTES = 32 * 1024 * 1024;

type Db = Pick<PrismaClient, '$executeRaw' | '$queryRaw' | '$transaction' | 'jobBlob'>;

export async function putBlob(db: Db, runId: string, name: string, value: Uint8Array): Promise<void> {
  const parts: Uint8Array[] = [];
  for (let off = 0; off < value.length || parts.length === 0; off += PART_BYTES) parts.push(value.subarray(off, off + PART_BYTES));
  // Replacing all parts in one transaction: a retried writer never leaves a mix of two attempts behind. Tens of
  // MB take seconds on a busy server: Prisma's default 5 s transaction timeout failed whole training runs.
  await db.$transaction(
    async (tx) => {
      await tx.jobBlob.deleteMany({ where: { runId, name } });
      // Raw insert: Prisma's create returns the written row, i.e. sends every byte back (3x slower for 20 MB).
      for (const [seq, data] of parts.entries()) await tx.$executeRaw`insert into job_blobs (run_id, name, seq, data) values (${runId}::uuid, ${name}, ${seq}, ${Buffer.from(data.buffer, data.byteOffset, data.byteLength)})`;
    },
    { maxWait: 60_000, timeout: 600_000 },
  );
}

export async function getBlob(db: Db, runId: string, name: string): Promise<Buffer | null> {
  const rows = await db.jobBlob.findMany({ where: { runId, name }, orderBy: { seq: 'asc' }, select: { data: true } });
  return rows.length ? Buffer.concat(rows.map((r) => Buffer.from(r.data))) : null;
}

/** Names of the run's complete blobs starting with namePrefix (a blob appears whole: putBlob is one transaction). */
export async function blobNames(db: Db, runId: string, namePrefix: string): Promise<string[]> {
  const rows = await db.jobBlob.findMany({ where: { runId, name: { startsWith: namePrefix }, seq: 0 }, select: { name: true } });
  return rows.map((r) => r.name);
}

export async function deleteBlobs(db: Db, runId: string, namePrefix = ''): Promise<number> {
  const r = await db.jobBlob.deleteMany({ where: { runId, name: { startsWith: namePrefix } } });
  return r.count;
}

/**
 * Parents delete their flow's blobs; a flow abandoned half-way (its run failed or vanished before the parent ran)
 * leaves them behind. Called when a flow starts: removes blobs of runs finished or gone for more than an hour.
 */
export async function sweepBlobs(db: Db): Promise<number> {
  return db.$executeRaw`
    delete from job_blobs b where b.created_at < now() - interval '1 hour'
      and not exists (select 1 from job_runs r where r.id = b.run_id and r.finished_at is null)`;
}
