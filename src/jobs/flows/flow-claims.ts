import type { PrismaClient } from '../../generated/prisma/client';

/**
 * Work items of a flow taken by whichever participant gets to them first: a claim is a job_blobs row named after
 * the item that holds the claimer's run id, and the primary key makes its insert the lock. A claim is never
 * released. A claimer that died is recognised by its run (failed, or silent too long) and another participant
 * redoes its items: the work is deterministic, so whoever does an item writes the same bytes.
 */

type Db = Pick<PrismaClient, '$executeRaw' | '$queryRaw' | 'jobBlob' | 'jobRun'>;

/**
 * How long a claimer may send no heartbeat (progress) before its items are redone elsewhere. A claimer's
 * heartbeats come with every tree and every fit; a worker killed mid-item stays 'running' in job_runs until
 * BullMQ hands its job to another worker, which then redoes its own claims first.
 */
export const SILENT_MS = 120_000;

/** Claims `name` for `by` unless someone did first; returns the owner (`by` when the claim is ours). */
export async function claim(db: Db, runId: string, name: string, by: string): Promise<string> {
  const n = await db.$executeRaw`insert into job_blobs (run_id, name, seq, data) values (${runId}::uuid, ${name}, 0, ${Buffer.from(by)})
    on conflict do nothing`;
  if (n === 1) return by;
  const row = await db.jobBlob.findUnique({ where: { runId_name_seq: { runId, name, seq: 0 } }, select: { data: true } });
  return row ? Buffer.from(row.data).toString() : by;
}

/** Claims of the run whose names start with prefix: name → owner. */
export async function claimsOf(db: Db, runId: string, prefix: string): Promise<Map<string, string>> {
  const rows = await db.jobBlob.findMany({ where: { runId, name: { startsWith: prefix }, seq: 0 }, select: { name: true, data: true } });
  return new Map(rows.map((r) => [r.name, Buffer.from(r.data).toString()]));
}

/** 'working': wait for it; 'gone': it will not do its items (finished without them, or silent); 'failed': for good. */
export type ClaimerState = 'working' | 'gone' | 'failed';

export async function claimerStates(db: Db, ids: readonly string[]): Promise<Map<string, ClaimerState>> {
  const runs = await db.jobRun.findMany({ where: { id: { in: [...new Set(ids)] } }, select: { id: true, state: true, heartbeatAt: true, startedAt: true, createdAt: true } });
  const out = new Map<string, ClaimerState>(ids.map((id) => [id, 'gone']));
  for (const r of runs) {
    if (r.state === 'failed' || r.state === 'cancelled') out.set(r.id, 'failed');
    else if (r.state === 'completed') out.set(r.id, 'gone');
    else out.set(r.id, Date.now() - lastSign(r) > SILENT_MS ? 'gone' : 'working');
  }
  return out;
}

export const lastSign = (r: { heartbeatAt: Date | null; startedAt: Date | null; createdAt: Date }) => (r.heartbeatAt ?? r.startedAt ?? r.createdAt).getTime();
