import { METHODS } from 'node:http';
import { AppError } from '@studio/service-kit';
import type { Account } from '@studio/shared-billing';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pairHeaders } from '../capture/payload';
import { verifySignature } from '../capture/signatures';
import { arrivedOnCaptureListener } from '../capture-listener';

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

/**
 * Behind the studio's Caddy (TRUST_PROXY=true) every request carries X-Forwarded-For, -Proto and -Host that
 * Caddy set: without `trusted_proxies` it replaces whatever the sender put under those names, so their values
 * are never the sender's bytes. A capture records what the sender sent, so these three are left out (the
 * sender's address is `remoteAddress`, read from X-Forwarded-For by `request.ip`); a replay then does not send
 * our proxy's view of the sender on to someone else. Without TRUST_PROXY nothing is dropped: a direct sender's
 * X-Forwarded-* are its own.
 */
const proxyAddedHeaders = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

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
  const { repository, store, vault, clock, config, sleep } = app.webhookvault;
  const limit = config.CAPTURE_BODY_LIMIT;
  const trustProxy = config.TRUST_PROXY;
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

  // The owner's account is read once per event-loop turn, not once per capture: under load one turn takes many
  // captures for the same few accounts, and the point query was ~6 % of the capture profile. A suspension or a
  // plan change is seen from the next turn on (a millisecond or so), never later.
  const accountsThisTurn = new Map<string, Account | null>();
  const ownerAccount = (accountId: string): Account | null => {
    let account = accountsThisTurn.get(accountId);
    if (account === undefined) {
      if (accountsThisTurn.size === 0) setImmediate(() => accountsThisTurn.clear());
      account = app.billing.repository.findAccount(accountId);
      accountsThisTurn.set(accountId, account);
    }
    return account;
  };

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
    const account = ownerAccount(endpoint.accountId);
    if (account === null) throw new AppError('not_found', 'No endpoint has this capture URL');
    if (account.status === 'suspended') {
      throw new AppError('account_suspended', 'The account that owns this endpoint is suspended');
    }
    app.billing.consumeMonthly(account, 'capturesPerMonth');

    // On the capture listener no proxy is in front whatever TRUST_PROXY says: every header is the sender's, and
    // request.ip is the socket's (src/capture-listener.ts takes X-Forwarded-* out of Fastify's view).
    const headers =
      trustProxy && !arrivedOnCaptureListener(request.raw)
        ? pairHeaders(request.raw.rawHeaders, proxyAddedHeaders)
        : pairHeaders(request.raw.rawHeaders);
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
      // The hot path answers on the raw response: the body is a fixed template around a base62 id (nothing to
      // escape, so no JSON serializer), and no onSend/onResponse hook has work here (no principal, no usage to
      // count, the request id is set below). One string to `end`, so headers and body leave in one write.
      const answer = `{"ok":true,"captureId":"${saved.id}"}`;
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': answer.length,
        'x-request-id': request.id,
      });
      reply.raw.end(answer);
      return;
    }
    if (custom.delayMs > 0) await sleep(custom.delayMs);
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
