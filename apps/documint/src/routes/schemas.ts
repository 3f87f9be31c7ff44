import { z } from 'zod';
import { MAX_EXPIRES_IN, MIN_EXPIRES_IN } from '../signed-urls';

export const engineSchema = z.enum(['typst', 'chromium']);
export const formatSchema = z.enum(['pdf', 'pdf/a-2b', 'factur-x']);
export const expiresInSchema = z.coerce
  .number()
  .int()
  .min(MIN_EXPIRES_IN, `must be at least ${MIN_EXPIRES_IN} seconds`)
  .max(MAX_EXPIRES_IN, `must be at most ${MAX_EXPIRES_IN} seconds (7 days)`);

export const documentRequestSchema = z
  .object({
    template: z
      .string()
      .min(1)
      .max(100)
      .describe('a built-in name (invoice, receipt, certificate) or a template id'),
    version: z.number().int().min(1).optional().describe('a version of a template id; may be a draft'),
    data: z.record(z.string(), z.unknown()).describe("the template's data, checked against its JSON Schema"),
    format: formatSchema.optional(),
    engine: engineSchema.optional(),
    async: z.boolean().optional(),
    callbackUrl: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .optional(),
    expiresIn: expiresInSchema.optional().describe('lifetime of the signed download URL, in seconds'),
  })
  .strict();

export const documentSchema = z.object({
  id: z.string(),
  status: z.enum(['queued', 'succeeded', 'failed']),
  template: z.string(),
  version: z.number().nullable(),
  engine: engineSchema,
  format: formatSchema,
  pages: z.number().nullable(),
  bytes: z.number().nullable(),
  sha256: z.string().nullable(),
  error: z.string().nullable(),
  callbackUrl: z.string().nullable(),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
  url: z.string().nullable().describe('signed download link, usable without the API key'),
  expiresAt: z.string().nullable(),
  callbacks: z
    .array(
      z.object({
        attempt: z.number(),
        messageId: z.string(),
        status: z.number().nullable(),
        ok: z.boolean(),
        error: z.string().nullable(),
        attemptedAt: z.string(),
      }),
    )
    .optional()
    .describe('delivery attempts of the callback (GET /v1/documents/:id only)'),
  callbackDelivery: z
    .object({
      state: z.enum(['pending', 'delivered', 'exhausted']),
      attempts: z.number(),
      nextAttemptAt: z.string().nullable().describe('when the next retry is due, while pending'),
      messageId: z.string().describe('the webhook-id every attempt carries'),
    })
    .nullable()
    .optional()
    .describe('the callback outbox entry, once the document has finished (GET /v1/documents/:id only)'),
});

export const idParams = z.object({ id: z.string().min(1).max(100) });
