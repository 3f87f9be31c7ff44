import { z } from 'zod';

/** Schemas shared by the API routes; each response type is inferred from these. */

export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  402: errorSchema,
  403: errorSchema,
  404: errorSchema,
  429: errorSchema,
};

export const verifySchemes = ['stripe', 'github', 'shopify', 'standard-webhooks'] as const;

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name');
const headerValue = z.string().regex(/^[^\r\n\0]*$/, 'must not contain CR, LF or NUL');

// Framing headers are the server's to set: a wrong Content-Length or Transfer-Encoding would corrupt the answer.
const framingHeaders = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
]);

export const customResponseSchema = z.object({
  status: z.number().int().min(200).max(599).default(200),
  headers: z
    .record(headerName, headerValue)
    .refine((headers) => Object.keys(headers).every((name) => !framingHeaders.has(name.toLowerCase())), {
      message:
        'must not set Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE or Trailer',
    })
    .default({}),
  body: z
    .string()
    .max(64 * 1024)
    .default(''),
  delayMs: z.number().int().min(0).max(30_000).default(0),
});

export const verifyInputSchema = z
  .object({ scheme: z.enum(verifySchemes), secret: z.string().min(1).max(1024) })
  .superRefine((value, ctx) => {
    if (value.scheme !== 'standard-webhooks') return;
    const key = value.secret.startsWith('whsec_') ? value.secret.slice(6) : value.secret;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: 'a Standard Webhooks secret is whsec_ followed by base64',
      });
    }
  });

export const endpointSchema = z.object({
  id: z.string(),
  name: z.string(),
  token: z.string(),
  url: z.string(),
  /** Present when WEBHOOKVAULT_CAPTURE_URL is set: the capture URL on the capture listener (no proxy). */
  directUrl: z.string().optional(),
  response: z
    .object({
      status: z.number(),
      headers: z.record(z.string(), z.string()),
      body: z.string(),
      delayMs: z.number(),
    })
    .nullable(),
  verify: z.object({ scheme: z.enum(verifySchemes) }).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const verificationSchema = z.object({
  status: z.enum(['verified', 'failed', 'not_configured']),
  reason: z.string().optional(),
});

export const captureSchema = z.object({
  id: z.string(),
  endpointId: z.string(),
  method: z.string(),
  path: z.string(),
  query: z.string(),
  headers: z.array(z.tuple([z.string(), z.string()])),
  bodyBase64: z.string(),
  bodyText: z.string().optional(),
  size: z.number(),
  remoteAddress: z.string(),
  receivedAt: z.string(),
  verification: verificationSchema,
});

export const captureSummarySchema = captureSchema.omit({ bodyBase64: true, bodyText: true });

export const attemptSchema = z.object({
  attempt: z.number(),
  startedAt: z.string(),
  durationMs: z.number(),
  statusCode: z.number().nullable(),
  error: z.string().nullable(),
});

export const deliverySchema = z.object({
  id: z.string(),
  endpointId: z.string(),
  captureId: z.string(),
  ruleId: z.string().nullable(),
  kind: z.enum(['forward', 'replay']),
  targetUrl: z.string(),
  preservePath: z.boolean(),
  status: z.enum(['pending', 'succeeded', 'failed', 'dead']),
  attempts: z.array(attemptSchema),
  maxAttempts: z.number(),
  nextAttemptAt: z.string().nullable(),
  lastStatusCode: z.number().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const ruleSchema = z.object({
  id: z.string(),
  endpointId: z.string(),
  targetUrl: z.string(),
  preservePath: z.boolean(),
  enabled: z.boolean(),
  disabledReason: z.string().nullable(),
  createdAt: z.string(),
});

export const idParams = z.object({ id: z.string().min(1).max(100) });
