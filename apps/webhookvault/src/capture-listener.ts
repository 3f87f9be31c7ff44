import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { AppError, errorEnvelope, requestIdFor } from '@studio/service-kit';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config';

/**
 * WebhookVault's public capture listener: a second port in the same process, for senders whose header order
 * must survive. The studio's Caddy (Go's net/http) parses headers into a map, so behind it header names come
 * out canonicalised and sorted; Debian's caddy has no layer-4 proxy to pass the bytes through. On this port no
 * proxy stands between the sender and Node's parser, so `rawHeaders` is the sender's request head.
 *
 * It serves `/h/<token>` and `/h/<token>/…` only, through the same Fastify instance (`app.routing`), so a capture
 * here shares the database, encryption, limits, SSE stream, outbox, request logging and error envelope with a
 * capture on the main port. Anything else is answered 404 here, before Fastify routes it: no API, no /internal,
 * no /docs and no health routes on a public port (the main port's /health reports this listener instead).
 *
 * It opens in `onReady`, so it is listening before the main port is (and /readyz there never says ready
 * without it), and a port it cannot take fails the start. `buildApp` still never listens on the main port;
 * tests that only `inject()` leave CAPTURE_PORT unset and get no second listener.
 */

export interface CaptureListener {
  /** True when CAPTURE_PORT is set. */
  readonly configured: boolean;
  /** The listener's Node server once it has been opened (it may since have stopped), else null. */
  readonly server: Server | null;
  /** The bound address once listening, else null. */
  address(): AddressInfo | null;
  /** `http://host:port` or `https://host:port` once listening (for logs and tests), else null. */
  url(): string | null;
  /**
   * Reads CAPTURE_TLS_CERT_FILE and CAPTURE_TLS_KEY_FILE again and serves the new pair to new connections
   * (server.ts calls it on SIGHUP, for renewed certificates). A pair that does not load is logged and the
   * current one kept. Returns false when nothing was reloaded.
   */
  reloadCertificates(): boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    captureListener: CaptureListener;
  }
}

// Requests that arrived on a capture listener (rather than the main port). Module-level, so the capture route
// can ask without a reference to the listener; keyed by the request object, so nothing outlives a request.
const arrivedDirectly = new WeakSet<IncomingMessage>();

/** True when `request` reached the app on the capture listener, with no proxy in front. */
export function arrivedOnCaptureListener(request: IncomingMessage): boolean {
  return arrivedDirectly.has(request);
}

// The capture routes' URLs as registered in src/routes/ingest.ts.
const captureRouteUrls = new Set(['/h/:token', '/h/:token/*']);
// `/h/<non-empty token>`, then the end, a sub-path or a query. Case-sensitive, as the router is.
const capturePath = /^\/h\/[^/?#]+(?:[/?]|$)/;

// Headers through which a proxy tells Fastify (with TRUST_PROXY) who the client is and how it connected.
// Nothing stands in front of this port, so whatever a sender puts under these names is only its own claim.
const forwardingHeaders = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'] as const;

interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

/** Reads the PEM pair; an error names the variable whose file failed. */
function readTlsPair(config: Config): TlsPair | null {
  const certFile = config.CAPTURE_TLS_CERT_FILE;
  const keyFile = config.CAPTURE_TLS_KEY_FILE;
  if (certFile === undefined || keyFile === undefined) return null;
  const read = (variable: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${variable} ${file} cannot be read: ${(error as Error).message}`);
    }
  };
  const pair = { cert: read('CAPTURE_TLS_CERT_FILE', certFile), key: read('CAPTURE_TLS_KEY_FILE', keyFile) };
  try {
    // Fails on a malformed PEM and on a key that does not match the certificate.
    createSecureContext(pair);
  } catch (error) {
    throw new Error(
      `CAPTURE_TLS_CERT_FILE ${certFile} and CAPTURE_TLS_KEY_FILE ${keyFile} do not load as a certificate and its key: ${(error as Error).message}`,
    );
  }
  return pair;
}

function answerNotFound(request: IncomingMessage, response: ServerResponse): void {
  const requestId = requestIdFor(request);
  const body = JSON.stringify(
    errorEnvelope('not_found', 'This port serves capture URLs only: /h/<token>', requestId),
  );
  response.writeHead(404, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
  });
  response.end(body);
}

/**
 * Decorates `app.captureListener`, adds the `capture:listener` health probe and, when CAPTURE_PORT is set,
 * opens the listener on ready and drains it on close. Call it on the root instance before the routes are
 * registered (its onRequest guard must apply to all of them).
 */
export function installCaptureListener(app: FastifyInstance, config: Config): void {
  const port = config.CAPTURE_PORT;
  const host = config.CAPTURE_HOST ?? config.HOST;
  let server: Server | undefined;
  let closed: Promise<void> | undefined;
  const inFlight = new Set<ServerResponse>();

  const address = (): AddressInfo | null => {
    const bound = server?.listening ? server.address() : null;
    return bound !== null && typeof bound === 'object' ? bound : null;
  };

  app.decorate('captureListener', {
    configured: port !== undefined,
    get server() {
      return server ?? null;
    },
    address,
    url() {
      const bound = address();
      if (bound === null) return null;
      const hostPart = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
      return `${config.CAPTURE_TLS_CERT_FILE ? 'https' : 'http'}://${hostPart}:${bound.port}`;
    },
    reloadCertificates() {
      if (server === undefined || !('setSecureContext' in server)) return false;
      try {
        const pair = readTlsPair(config);
        if (pair === null) return false;
        (server as Server & { setSecureContext(options: TlsPair): void }).setSecureContext(pair);
        app.log.info('capture listener: certificate reloaded; new connections get it');
        return true;
      } catch (error) {
        app.log.error({ err: error }, `capture listener: certificate not reloaded, the current one is kept`);
        return false;
      }
    },
  } satisfies CaptureListener);

  if (port === undefined) return;

  // Defence in depth behind the path check in the listener: whatever the router made of a URL that passed it,
  // a request from the capture port runs a capture route or nothing.
  app.addHook('onRequest', async (request) => {
    if (arrivedOnCaptureListener(request.raw) && !captureRouteUrls.has(request.routeOptions.url ?? '')) {
      throw new AppError('not_found', 'This port serves capture URLs only: /h/<token>');
    }
  });

  // Critical: senders handed this port's URLs fail while it does not listen, and capture is the product. The
  // cost is that /readyz answers 503 for the API too; the listener only stops while the process lives after
  // a server error, which is logged.
  app.health.addProbe({
    name: 'capture:listener',
    componentType: 'component',
    critical: true,
    timeoutMs: 1000,
    check: () => {
      const bound = address();
      return bound === null
        ? { status: 'fail', output: `the capture listener (CAPTURE_PORT=${port}) is not listening` }
        : { status: 'pass', observedValue: bound.port, observedUnit: 'port' };
    },
  });

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    if (!capturePath.test(request.url ?? '')) {
      app.log.debug({ method: request.method }, 'capture listener: not a capture URL, 404');
      answerNotFound(request, response);
      return;
    }
    // Dropped from the parsed header map only (never from rawHeaders, which the capture records), so that with
    // TRUST_PROXY=true Fastify's request.ip, host and protocol are this socket's, not a sender's claim: the
    // recorded remoteAddress, the unknown-token limiter and the request log all see the real peer.
    for (const name of forwardingHeaders) delete request.headers[name];
    arrivedDirectly.add(request);
    inFlight.add(response);
    response.once('close', () => {
      inFlight.delete(response);
      // Closing, and this answer had already started when it began (too late for `connection: close`): its
      // connection is idle from the next tick, so close it then rather than after the keep-alive timeout.
      if (closed !== undefined) setImmediate(() => server?.closeIdleConnections());
    });
    app.routing(request, response);
  };

  app.addHook('onReady', async () => {
    const tls = readTlsPair(config);
    // Node's own timeouts are kept (headers within 60 s, a whole request within 300 s): unlike the main port,
    // this one faces the internet with no proxy to cut off a slow sender; 300 s still lets a 25 MiB body
    // arrive at 85 kB/s.
    const listener = tls ? createHttpsServer(tls, handle) : createHttpServer(handle);
    // Node keeps only the first 2,000 rawHeaders entries (1,000 headers) and drops the rest without a word; a
    // capture must record them all. The request head stays bounded by Node's maxHeaderSize (16 KiB).
    listener.maxHeadersCount = 0;
    // The port faces the internet with no proxy in front: a bound on open sockets keeps a flood of idle
    // connections from exhausting file descriptors shared with the database and the main port.
    listener.maxConnections = config.CAPTURE_MAX_CONNECTIONS;
    server = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host, port }, () => {
        listener.off('error', reject);
        resolve();
      });
    }).catch((error: Error) => {
      throw new Error(
        `the capture listener cannot listen on ${host}:${port} (CAPTURE_HOST, CAPTURE_PORT): ${error.message}`,
      );
    });
    listener.on('error', (error) => app.log.error({ err: error }, 'capture listener error'));
    app.log.info(`capture listener on ${app.captureListener.url()}`);
  });

  // Both ports stop taking connections together: preClose runs before Fastify closes the main server.
  app.addHook('preClose', async () => {
    const listener = server;
    if (listener === undefined) return;
    closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    // An answer still being worked on is the last on its connection; idle keep-alive connections close now.
    for (const response of inFlight) {
      if (!response.headersSent) response.setHeader('connection', 'close');
    }
    listener.closeIdleConnections();
  });

  // Runs before the database closes (onClose hooks run in reverse order of registration): the captures in
  // flight here finish and commit first.
  app.addHook('onClose', async () => {
    await closed;
  });
}
