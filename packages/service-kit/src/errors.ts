import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';

/**
 * Every error code the studio answers with, and its HTTP status: one table, so a code never drifts to a
 * second status in another app.
 */
export const errorStatus = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  plan_limit_reached: 402,
  forbidden: 403,
  read_only_key: 403,
  account_suspended: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  internal_error: 500,
  bad_gateway: 502,
  service_unavailable: 503,
  gateway_timeout: 504,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export interface ErrorDetail {
  /** JSON pointer or dotted path of the offending field, e.g. `/body/email`. */
  path: string;
  message: string;
}

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; requestId: string; details?: ErrorDetail[] };
}

export class AppError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
    this.statusCode = errorStatus[code];
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);

export function errorEnvelope(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: ErrorDetail[],
): ErrorEnvelope {
  return { error: details?.length ? { code, message, requestId, details } : { code, message, requestId } };
}

function codeForStatus(status: number): ErrorCode {
  const match = (Object.entries(errorStatus) as [ErrorCode, number][]).find(([, s]) => s === status);
  if (match) return match[0];
  return status >= 500 ? 'internal_error' : 'bad_request';
}

const contextNames: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  headers: 'headers',
};

/** Turns a validation failure into details that name each field, e.g. `body.email: Invalid email address`. */
function validationDetails(error: FastifyError): ErrorDetail[] {
  const context = contextNames[error.validationContext ?? 'body'] ?? 'body';
  return (error.validation ?? []).map((issue) => {
    const pointer = issue.instancePath && issue.instancePath !== '/' ? issue.instancePath : '';
    const missing =
      typeof issue.params === 'object' && issue.params && 'missingProperty' in issue.params
        ? `/${String(issue.params.missingProperty)}`
        : '';
    return { path: `/${context}${pointer}${missing}`, message: issue.message ?? 'is invalid' };
  });
}

function describeDetails(details: ErrorDetail[]): string {
  const shown = details
    .slice(0, 5)
    .map((d) => `${d.path.slice(1).replaceAll('/', '.')}: ${d.message}`)
    .join('; ');
  return details.length > 5 ? `${shown}; and ${details.length - 5} more` : shown;
}

export function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.headers) reply.headers(error.headers);
  return reply
    .code(error.statusCode)
    .type('application/json; charset=utf-8')
    .send(errorEnvelope(error.code, error.message, reply.request.id, error.details));
}

/**
 * The studio's error envelope for every route: validation errors name the field, client errors keep their
 * message, and 5xx details go to the log only, because they can carry paths, SQL or connection strings.
 */
export const errorEnvelopePlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      if (error instanceof AppError) {
        if (error.statusCode >= 500) request.log.error({ err: error }, error.message);
        return sendError(reply, error);
      }
      if (hasZodFastifySchemaValidationErrors(error) || error.validation) {
        const details = validationDetails(error as FastifyError);
        return sendError(reply, new AppError('validation_failed', describeDetails(details), details));
      }
      if (isResponseSerializationError(error as never) && 'cause' in error) {
        request.log.error({ err: error }, 'response did not match its schema');
        return sendError(reply, new AppError('internal_error', 'Internal server error'));
      }
      const status = error.statusCode ?? 500;
      if (status >= 500) {
        request.log.error({ err: error }, 'request failed');
        return sendError(reply, new AppError(codeForStatus(status), 'Internal server error'));
      }
      // Fastify's own 4xx (malformed JSON, body too large, bad media type) carry safe, useful messages.
      return sendError(reply, new AppError(codeForStatus(status), error.message));
    });

    app.setNotFoundHandler((request, reply) =>
      sendError(
        reply,
        new AppError('not_found', `Route ${request.method} ${request.url.split('?')[0]} not found`),
      ),
    );
  },
  { name: '@studio/error-envelope' },
);
