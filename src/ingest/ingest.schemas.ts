import { z } from 'zod';
import { badTextReason, findBadText, isValidIsoTimestamp } from '../lib/text';

/** Row shapes accepted by every ingest path (GraphQL mutations, CLI import, demo). */

export const MAX_BATCH = 5000;
export const MAX_TEXT = 20_000;

/** PostgreSQL text cannot hold NUL or unpaired surrogates: refused per row and field instead of failing the batch. */
const storable = (v: string, ctx: z.RefinementCtx) => {
  const reason = badTextReason(v);
  if (reason) ctx.addIssue({ code: 'custom', message: reason });
};
const text = (max: number) => z.string().trim().max(max).superRefine(storable);
const externalId = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters').superRefine(storable);
const isoWithZone = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_FUTURE_MS = 366 * 24 * 3600 * 1000;

export const timestamp = z
  .union([z.string(), z.date()])
  .transform((v, ctx) => {
    if (typeof v === 'string' && !isoWithZone.test(v)) {
      ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 timestamp with a time zone, e.g. 2024-03-01T12:00:00Z' });
      return z.NEVER;
    }
    if (typeof v === 'string' && !isValidIsoTimestamp(v)) {
      ctx.addIssue({ code: 'custom', message: 'is not a real calendar date and time (month, day, hour or offset out of range)' });
      return z.NEVER;
    }
    const d = v instanceof Date ? v : new Date(v);
    const t = d.getTime();
    if (!Number.isFinite(t) || t < MIN_TIME || t > Date.now() + MAX_FUTURE_MS) {
      ctx.addIssue({ code: 'custom', message: 'is not a valid date between 1970 and one year from now' });
      return z.NEVER;
    }
    return d;
  });

/** Decimal string or number with at most 4 decimals; kept as a string so totals never drift through floats. */
export const money = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : 'NaN') : v.trim();
  if (!/^-?\d{1,14}(\.\d{1,4})?$/.test(s)) {
    ctx.addIssue({ code: 'custom', message: 'must be a decimal number with at most 14 integer digits and 4 decimals' });
    return z.NEVER;
  }
  return s;
});

export const customerRow = z.object({
  externalId,
  birthYear: z.number().int().min(1900).max(new Date().getUTCFullYear()).nullish(),
  gender: text(50).nullish(),
  region: text(100).nullish(),
  signupDate: timestamp.nullish(),
  attributes: z
    .record(z.string(), z.unknown())
    .nullish()
    .refine((a) => a == null || JSON.stringify(a).length <= 16_384, 'must serialize to at most 16 KB of JSON')
    .refine((a) => a == null || findBadText(a) === null, 'keys and strings must not contain NUL characters or unpaired surrogates'),
});

export const transactionRow = z
  .object({
    externalId,
    customerExternalId: externalId,
    occurredAt: timestamp,
    amount: money,
    currency: z.string().trim().regex(/^[A-Za-z]{3}$/, 'must be a 3-letter ISO 4217 code').transform((s) => s.toUpperCase()).default('USD'),
    quantity: z.number().int().min(-1_000_000).max(1_000_000).default(1),
    productId: text(200).nullish(),
    category: text(200).nullish(),
    description: z.string().max(MAX_TEXT).superRefine(storable).nullish(),
    kind: z.enum(['purchase', 'refund']).default('purchase'),
  })
  .superRefine((t, ctx) => {
    // Refunds carry the money returned as a positive or negative amount; purchases cannot be negative.
    if (t.kind === 'purchase' && t.amount.startsWith('-')) {
      ctx.addIssue({ code: 'custom', path: ['amount'], message: 'must not be negative for a purchase (use kind: refund)' });
    }
  });

export const commentRow = z.object({
  externalId,
  customerExternalId: externalId,
  createdAt: timestamp,
  source: z.enum(['review', 'social', 'support', 'other']).default('other'),
  language: z.string().trim().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$|^und$/, 'must be a BCP-47 language tag such as en or pt-BR').default('und'),
  text: z.string().min(1, 'must not be empty').max(MAX_TEXT, `must be at most ${MAX_TEXT} characters`).superRefine(storable),
});

export type CustomerRow = z.output<typeof customerRow>;
export type TransactionRow = z.output<typeof transactionRow>;
export type CommentRow = z.output<typeof commentRow>;
