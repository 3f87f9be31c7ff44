import type { ServiceInstance } from '@studio/service-kit';
import { z } from 'zod';
import type { PingSubmission, PingTarget } from '../monitor/ingest';
import type { PingKind } from '../monitor/state';

/**
 * healthchecks.io's ping API, byte for byte: `/ping/<uuid>[/start|/fail|/log|/<exit status>]` and
 * `/ping/<ping key>/<slug>[...]` (with `?create=1`), on HEAD, GET and POST, answered in plain text.
 * A 200 is sent only once the ping is committed (see ../monitor/ingest.ts).
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ANY_UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const SLUG = /^[a-z0-9_-]+$/;
const PING_KEY = /^[A-Za-z0-9_-]{1,64}$/;
const EXIT_STATUS = /^\d{1,10}$/;
// Bodies past PING_BODY_LIMIT are read and dropped (healthchecks truncates); past this, the client is cut off.
const MAX_READ_BYTES = 16 * 1024 * 1024;

type Action = { kind: PingKind; exitstatus: number | null } | 'invalid_exit_status';

function parseAction(segment: string | undefined): Action | null {
  if (segment === undefined) return { kind: 'success', exitstatus: null };
  if (segment === 'start' || segment === 'fail' || segment === 'log')
    return { kind: segment, exitstatus: null };
  if (EXIT_STATUS.test(segment)) {
    const status = Number(segment);
    if (status > 255) return 'invalid_exit_status';
    return { kind: status === 0 ? 'success' : 'fail', exitstatus: status };
  }
  return null;
}

function parsePath(rest: string): { target: PingTarget; action: Action } | null {
  const segments = rest.split('/');
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  const [first, second, third] = segments;
  if (first === undefined) return null;
  if (UUID.test(first) && segments.length <= 2) {
    const action = parseAction(second);
    if (action) return { target: { code: first }, action };
  }
  if (segments.length >= 2 && segments.length <= 3 && PING_KEY.test(first) && SLUG.test(second ?? '')) {
    const action = parseAction(third);
    if (action) return { target: { pingKey: first, slug: second!, create: false }, action };
  }
  return null;
}

export function registerPingRoutes(app: ServiceInstance, options: { bodyLimit: number }) {
  const { monitor } = app;
  const bodyLimitHeader = String(options.bodyLimit);

  // Any content type: the body is stored as bytes, never parsed, and cut at PING_BODY_LIMIT.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let read = 0;
    payload.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > MAX_READ_BYTES) {
        payload.destroy();
        done(Object.assign(new Error('ping body too large'), { statusCode: 413 }), undefined);
        return;
      }
      if (kept < options.bodyLimit) {
        const part = chunk.subarray(0, options.bodyLimit - kept);
        chunks.push(part);
        kept += part.length;
      }
    });
    payload.on('end', () => done(null, Buffer.concat(chunks, kept)));
    payload.on('error', (error) => done(error, undefined));
  });

  const text = z.string();
  app.route({
    method: ['GET', 'POST'],
    url: '/ping/*',
    // Pings are exempt from the per-account limiter (a fleet of jobs pings at the top of the hour), and are
    // not access-logged at info: at 10,000/s that is the log, not the product. Each ping is stored instead.
    config: { rateLimit: false },
    logLevel: 'warn',
    schema: {
      tags: ['ping'],
      summary:
        'Ping a check (healthchecks.io-compatible): /ping/<uuid>[/start|/fail|/log|/<0-255>] or /ping/<ping key>/<slug>[...]',
      params: z.object({ '*': z.string() }),
      querystring: z.looseObject({
        rid: z.string().optional().describe('run id (a UUID) pairing a start with its finish'),
        create: z.string().optional().describe('1: create the slug check on its first ping'),
      }),
      response: { 200: text, 201: text, 400: text, 404: text, 409: text, 403: text },
    },
    handler: async (request, reply) => {
      reply.header('access-control-allow-origin', '*').type('text/plain; charset=utf-8');
      const parsed = parsePath(request.params['*']);
      if (!parsed) return reply.code(404).send('not found');
      const { target, action } = parsed;
      const rid = request.query.rid;
      // healthchecks looks the check up (creating it with ?create=1) before it rejects a bad exit status or
      // rid: unknown → 404, shared slug → 409, and only then 400. The ingest does the same, in that order.
      const invalid =
        action === 'invalid_exit_status'
          ? 'invalid_url_format'
          : rid !== undefined && !ANY_UUID.test(rid)
            ? 'invalid_uuid_format'
            : undefined;
      if ('slug' in target) target.create = request.query.create === '1';
      const body = request.body as Buffer | undefined;
      const submission: PingSubmission = {
        target,
        // A refused ping records nothing; these fields only fill the type.
        kind: action === 'invalid_exit_status' ? 'success' : action.kind,
        exitstatus: action === 'invalid_exit_status' ? null : action.exitstatus,
        rid: invalid || rid === undefined ? null : rid.toLowerCase(),
        method: request.method,
        scheme: request.protocol,
        remoteAddr: request.ip,
        ua: request.headers['user-agent'] ?? '',
        body: body && body.length > 0 ? body : null,
        ...(invalid ? { invalid } : {}),
      };
      const result = await monitor.ingest.submit(submission);
      switch (result) {
        case 'ok':
          return reply.code(200).header('ping-body-limit', bodyLimitHeader).send('OK');
        case 'created':
          return reply.code(201).header('ping-body-limit', bodyLimitHeader).send('Created');
        case 'ambiguous':
          return reply.code(409).send('ambiguous slug');
        case 'invalid_url_format':
          return reply.code(400).send('invalid url format');
        case 'invalid_uuid_format':
          return reply.code(400).send('invalid uuid format');
        case 'check_limit':
          return reply.code(403).send('check limit reached');
        default:
          return reply.code(404).send('not found');
      }
    },
  });
}
