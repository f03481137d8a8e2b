import { z } from 'zod';
import { timestamp } from '../ingest/ingest.schemas';
import { badTextReason, findBadText } from '../lib/text';

/** Row shape of an event, shared by the GraphQL mutation and the CLI import (same rules as the other ingest paths). */

export const EVENT_TYPES = ['page_view', 'product_view', 'search', 'add_to_cart', 'like', 'share', 'follow', 'other'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/** Search queries and captions are short; anything longer is almost certainly a mis-mapped column. */
export const MAX_EVENT_TEXT = 2000;

/** PostgreSQL text cannot hold NUL or unpaired surrogates: refused per row and field (as in ingest.schemas). */
const storable = (v: string, ctx: z.RefinementCtx) => {
  const reason = badTextReason(v);
  if (reason) ctx.addIssue({ code: 'custom', message: reason });
};
const externalId = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters').superRefine(storable);
const shortText = z.string().trim().max(200).superRefine(storable);

export const eventRow = z.object({
  externalId,
  customerExternalId: externalId,
  occurredAt: timestamp,
  type: z.enum(EVENT_TYPES, { message: `must be one of ${EVENT_TYPES.join(', ')}` }),
  productId: shortText.nullish(),
  category: shortText.nullish(),
  // Blank text means "no text": it is neither embedded nor shown.
  text: z
    .string()
    .max(MAX_EVENT_TEXT, `must be at most ${MAX_EVENT_TEXT} characters`)
    .superRefine(storable)
    .nullish()
    .transform((t) => (t == null || t.trim() === '' ? null : t)),
  properties: z
    .record(z.string(), z.unknown())
    .nullish()
    .refine((a) => a == null || JSON.stringify(a).length <= 16_384, 'must serialize to at most 16 KB of JSON')
    .refine((a) => a == null || findBadText(a) === null, 'keys and strings must not contain NUL characters or unpaired surrogates'),
});

export type EventRow = z.output<typeof eventRow>;
