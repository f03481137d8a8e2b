/** Domain error codes; src/graphql maps them to GraphQL extensions.code and HTTP status in one place. */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'UNAUTHENTICATED'
  | 'CONFLICT'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export interface FieldIssue {
  /** Row index in the submitted batch, when the input is a batch. */
  row?: number;
  field: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: { issues?: FieldIssue[]; [key: string]: unknown },
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const badInput = (message: string, issues?: FieldIssue[]) =>
  new DomainError('BAD_USER_INPUT', message, issues ? { issues } : undefined);
export const notFound = (what: string) => new DomainError('NOT_FOUND', `${what} not found`);
export const unavailable = (message: string) => new DomainError('UNAVAILABLE', message);

export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'BAD_USER_INPUT':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'CONFLICT':
      return 409;
    case 'UNAVAILABLE':
      return 503;
    default:
      return 500;
  }
}
