import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * Paths pino blanks out wherever they appear in a log line. Fastify's request serializer logs no headers,
 * but plugins and route code log objects, and one stray `log.info({ config })` must not leak a secret.
 */
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["stripe-signature"]',
  'req.headers["webhook-signature"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  '*.password',
  '*.apiKey',
  '*.secret',
  '*.token',
  '*.webhookSecret',
  '*.authorization',
  'config.INTERNAL_TOKEN',
  'config.STRIPE_SECRET_KEY',
  'config.STRIPE_WEBHOOK_SECRET',
  'config.OPS_VAULT_KEY',
  'config.OPS_ADMIN_TOKEN',
  'config.WEBHOOKVAULT_ENCRYPTION_KEY',
  'config.GHOST_ADMIN_API_KEY',
  'config.DEVTO_API_KEY',
  'config.LISTMONK_TOKEN',
  'config.PLAUSIBLE_API_KEY',
  'config.OWNER_PASSWORD_HASH',
];

export interface LoggerConfig {
  service: string;
  level: string;
  /** Patterns whose first capture group is replaced in logged URLs: ping keys, capture tokens. */
  urlSecrets?: RegExp[];
}

export function redactUrl(url: string, patterns: RegExp[] = []): string {
  let result = url;
  for (const pattern of patterns) {
    result = result.replace(pattern, (match, secret: string) => match.replace(secret, '[redacted]'));
  }
  return result;
}

export function loggerOptions(config: LoggerConfig): LoggerOptions {
  return {
    name: config.service,
    level: config.level,
    redact: { paths: redactedPaths, censor: '[redacted]' },
    serializers: {
      req(request: { method: string; url: string; ip?: string; id?: string }) {
        return {
          method: request.method,
          url: redactUrl(request.url, config.urlSecrets),
          remoteAddress: request.ip,
        };
      },
    },
  };
}

export function createLogger(config: LoggerConfig): Logger {
  return pino(loggerOptions(config));
}

const safeRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Request ids: a caller's `x-request-id` is kept when it is a plain token (so one id follows a request through
 * Caddy and the ops-agent), otherwise a fresh UUID; arbitrary header text never reaches the logs.
 */
export function requestIdFor(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && safeRequestId.test(incoming) ? incoming : randomUUID();
}
