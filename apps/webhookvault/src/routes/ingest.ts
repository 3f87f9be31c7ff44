import { METHODS } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { AppError } from '@studio/service-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pairHeaders } from '../capture/payload';
import { verifySignature } from '../capture/signatures';

/**
 * Capture: any method, any sub-path and query under `/h/<token>`. The request is handled whole in a route
 * `onRequest` hook that reads the raw body stream itself and answers, so Fastify never parses it: no content
 * type parser, no 415 for an odd Content-Type, no body limit but ours, and a GET or DELETE keeps its body.
 * Capture routes are open (the token is the credential) and skip the per-account limiter; they count against
 * the plan's monthly captures instead.
 */

// CONNECT never reaches a request handler in Node (it is a tunnel), so it cannot be captured.
export const captureMethods = METHODS.filter((method) => method !== 'CONNECT');

/** Teaches Fastify every method Node's parser accepts (WebDAV, PURGE, ...) so the capture route can have them. */
export function addCaptureMethods(app: FastifyInstance): void {
  const known = new Set(app.supportedMethods);
  for (const method of captureMethods) {
    if (!known.has(method)) app.addHttpMethod(method, { hasBody: true });
  }
}

class BodyTooLarge extends Error {}

const UNKNOWN_TOKEN_REQUESTS_PER_MINUTE = 120;

// After the limit is passed, this much more is read and thrown away so the sender can read our 413; past it,
// the connection is closed.
const DRAIN_AFTER_LIMIT_BYTES = 1024 * 1024;

function readBody(request: FastifyRequest, limit: number): Promise<Buffer> {
  const raw = request.raw;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    raw.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (tooLarge) {
        if (size > limit + DRAIN_AFTER_LIMIT_BYTES) raw.destroy();
        return;
      }
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    raw.on('end', () => (tooLarge ? reject(new BodyTooLarge()) : resolve(Buffer.concat(chunks, size))));
    raw.on('error', reject);
    raw.on('close', () => {
      if (tooLarge) reject(new BodyTooLarge());
    });
  });
}

function splitUrl(url: string, token: string): { path: string; query: string } {
  const queryAt = url.indexOf('?');
  const pathname = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt + 1);
  const prefix = `/h/${token}`;
  const at = pathname.indexOf(prefix);
  return { path: at === -1 ? '' : pathname.slice(at + prefix.length), query };
}

export async function ingestRoutes(app: FastifyInstance) {
  const { repository, store, vault, clock, config } = app.webhookvault;
  const limit = config.CAPTURE_BODY_LIMIT;
  const tooLargeError = () =>
    new AppError(
      'payload_too_large',
      `Request body is larger than the capture limit of ${limit} bytes (CAPTURE_BODY_LIMIT)`,
    );

  // Known tokens are limited by the owner's monthly allowance; requests for unknown tokens (scanners, deleted
  // endpoints still being called) are limited per client address instead, so they cannot flood us for free.
  const unknownTokenLimiter = app.createRateLimit({
    max: UNKNOWN_TOKEN_REQUESTS_PER_MINUTE,
    timeWindow: '1 minute',
    keyGenerator: (request) => `webhookvault-unknown-token:${request.ip}`,
  });

  const capture = async (request: FastifyRequest, reply: FastifyReply) => {
    const { token } = request.params as { token: string };
    const endpoint = repository.findEndpointByToken(token);
    const receivedMs = clock.now();
    if (endpoint === null) {
      request.raw.resume();
      const limit = await unknownTokenLimiter(request);
      if (!limit.isAllowed && limit.isExceeded) {
        const retryAfter = Math.max(1, Math.ceil(limit.ttl / 1000));
        throw new AppError(
          'rate_limited',
          `Too many requests for unknown capture URLs; retry in ${retryAfter} s`,
          undefined,
          { 'retry-after': String(retryAfter) },
        );
      }
      throw new AppError('not_found', 'No endpoint has this capture URL');
    }
    const declared = request.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      // Nothing of the body is read; the connection closes after the answer so the rest is never waited for.
      reply.header('connection', 'close');
      throw tooLargeError();
    }
    let body: Buffer;
    try {
      body = await readBody(request, limit);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        reply.header('connection', 'close');
        throw tooLargeError();
      }
      throw error;
    }
    const account = app.billing.repository.findAccount(endpoint.accountId);
    if (account === null) throw new AppError('not_found', 'No endpoint has this capture URL');
    if (account.status === 'suspended') {
      throw new AppError('account_suspended', 'The account that owns this endpoint is suspended');
    }
    app.billing.consumeMonthly(account, 'capturesPerMonth');

    const headers = pairHeaders(request.raw.rawHeaders);
    const verifyConfig = endpoint.verify
      ? { scheme: endpoint.verify.scheme, secret: vault.openText(endpoint.verify.secret, endpoint.id) }
      : null;
    const verification = verifySignature(verifyConfig, headers, body, receivedMs);
    const { path, query } = splitUrl(request.raw.url ?? '', token);
    const saved = await store.record({
      endpointId: endpoint.id,
      accountId: endpoint.accountId,
      method: request.method,
      request: { path, query, headers, remoteAddress: request.ip, body },
      verification,
      receivedMs,
    });

    const custom = endpoint.response;
    if (custom === null) {
      return reply.code(200).type('application/json; charset=utf-8').send({ ok: true, captureId: saved.id });
    }
    if (custom.delayMs > 0) await delay(custom.delayMs);
    reply.code(custom.status);
    for (const [name, value] of Object.entries(custom.headers)) reply.header(name, value);
    return reply.send(custom.body);
  };

  for (const url of ['/h/:token', '/h/:token/*']) {
    app.route({
      method: captureMethods,
      url,
      // Request logs would carry the raw query; capture routes log only warnings and errors.
      logLevel: 'warn',
      config: { rateLimit: false },
      schema: { hide: true },
      onRequest: capture,
      handler: async () => {
        throw new AppError('internal_error', 'capture handler reached without an answer');
      },
    });
  }
}
