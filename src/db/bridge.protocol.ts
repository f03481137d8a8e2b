import type { IsolationLevel, SqlQuery } from '@prisma/driver-adapter-utils';

export type BridgeRequest = { id: number } & (
  | { op: 'queryRaw' | 'executeRaw'; query: SqlQuery; tx?: number }
  | { op: 'executeScript'; script: string }
  | { op: 'startTransaction'; isolationLevel?: IsolationLevel }
  | { op: 'commit' | 'rollback'; tx: number }
);

export type BridgeResponse =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  /** DriverAdapterError carries its kind (unique violation, ...) here; Prisma maps it to P2002 and friends. */
  cause?: unknown;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return { name: err.name, message: err.message, cause: isPlain(cause) ? cause : undefined };
  }
  return { name: 'Error', message: String(err) };
}

export function deserializeError(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.cause !== undefined) (err as { cause?: unknown }).cause = e.cause;
  return err;
}

function isPlain(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  try {
    structuredClone(v);
    return true;
  } catch {
    return false;
  }
}
