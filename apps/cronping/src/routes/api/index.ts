import { randomUUID } from 'node:crypto';
import { AppError, type ServiceInstance, type ZodTypeProvider } from '@studio/service-kit';
import { checkOutboundUrl, OutboundBlockedError, parseOutboundAllowlist } from '@studio/service-kit/outbound';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config } from '../../config';
import { defaultCheckFields } from '../../monitor/ingest';
import { type CheckState, deadlineOf } from '../../monitor/state';
import type { ChannelKind, Check, CheckFields } from '../../repository';
import { isValidTimezone, previewCron, ScheduleError } from '../../schedule';
import { checkJson, checkJsonSchema, tagsOf, uniqueKeyOf } from './check-json';
import { type CheckSpec, parseCheckSpec, SpecError, slugify } from './spec';

/**
 * healthchecks' Management API under /api/v1, /api/v2 and /api/v3, with its JSON fields and its
 * `{"error": "..."}` errors (the one deliberate exception to the studio's error envelope, so its clients
 * parse our errors). Authentication is the `X-Api-Key` header with the account's read-write or read-only
 * keys. One deliberate difference: another account's check answers 404, never healthchecks' 403, so a
 * key cannot even learn that a UUID exists.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const errorSchema = z.object({ error: z.string() });
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA1 = /^[0-9a-f]{40}$/;
const notFound = () => new ApiError(404, 'not found');
// The extension's channel bodies; `api_key` is healthchecks' legacy body key, read by the auth hook.
const channelCreateBody = z.object({
  name: z.string().max(100).default(''),
  kind: z.enum(['webhook', 'slack', 'email']),
  url: z.string().max(2000).optional(),
  email: z.email().max(254).optional(),
  api_key: z.string().optional(),
});
const channelUpdateBody = z.object({
  name: z.string().max(100).optional(),
  kind: z.enum(['webhook', 'slack', 'email']).optional(),
  url: z.string().max(2000).optional(),
  email: z.email().max(254).optional(),
  api_key: z.string().optional(),
});

const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '+00:00');

const headerKey = (request: FastifyRequest) => {
  const key = request.headers['x-api-key'];
  return typeof key === 'string' ? key : undefined;
};
/** healthchecks' legacy `api_key` field of a JSON body, read only when no X-Api-Key header is sent. */
const bodyKey = (request: FastifyRequest) => {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const key = (body as Record<string, unknown>).api_key;
  return typeof key === 'string' ? key : undefined;
};

function apiErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof ApiError) return reply.code(error.status).send({ error: error.message });
  if (error instanceof AppError) {
    if (error.code === 'unauthorized' || error.code === 'read_only_key') {
      return reply
        .code(401)
        .send({ error: headerKey(request) || bodyKey(request) ? 'wrong api key' : 'missing api key' });
    }
    if (error.headers) reply.headers(error.headers);
    if (error.statusCode >= 500) request.log.error({ err: error }, error.message);
    return reply
      .code(error.statusCode)
      .send({ error: error.statusCode >= 500 ? 'internal error' : error.message });
  }
  if (error.validation || error.code === 'FST_ERR_VALIDATION') {
    return reply.code(400).send({ error: `json validation error: ${error.message}` });
  }
  if (error.code?.startsWith('FST_ERR_CTP_')) {
    const status = error.statusCode ?? 400;
    return reply
      .code(status)
      .send({ error: status === 400 ? 'could not parse request body' : error.message });
  }
  const status = error.statusCode ?? 500;
  if (status >= 500) {
    request.log.error({ err: error }, 'api request failed');
    return reply.code(500).send({ error: 'internal error' });
  }
  return reply.code(status).send({ error: error.message });
}

export function registerManagementApi(app: ServiceInstance, config: Config) {
  const { monitor, billing } = app;
  const { repository, clock } = monitor;
  const baseUrl = config.PUBLIC_URL;
  const allowlist = parseOutboundAllowlist(config.OUTBOUND_ALLOWLIST);

  const saveCheck = app.database.transaction(
    (accountId: string, existing: Check | null, fields: CheckFields, channelIds: string[] | null) => {
      const now = clock.now();
      const check = existing ?? repository.insertCheck(accountId, fields, now);
      if (existing) repository.updateFields(existing.id, fields);
      if (channelIds !== null) repository.setCheckChannels(check.id, channelIds);
      // A new period or schedule moves the pending deadline (healthchecks: alert_after = going_down_after()).
      const merged = { ...check, ...fields };
      const alertAfter = deadlineOf(merged, merged);
      if (alertAfter !== check.alertAfter) repository.updateState(check.id, { ...merged, alertAfter });
      return { id: check.id, alertAfter };
    },
  );
  const setState = app.database.transaction(
    (check: Check, state: CheckState, flip: { to: 'paused' | 'new' } | null) => {
      repository.updateState(check.id, state);
      if (flip) {
        repository.insertFlip(check.id, {
          created: clock.now(),
          oldStatus: check.status,
          newStatus: flip.to,
          reason: flip.to === 'paused' ? 'paused' : 'resumed',
        });
      }
    },
  );
  const deleteCheck = app.database.transaction((id: number) => repository.deleteCheck(id));
  const createChannel = app.database.transaction((channel: Parameters<typeof repository.insertChannel>[0]) =>
    repository.insertChannel(channel),
  );

  const resolveChannels = (accountId: string, value: string | undefined): string[] | null => {
    if (value === undefined) return null;
    const available = repository.channelsOfAccount(accountId);
    if (value === '*') return available.map((channel) => channel.id);
    if (value === '') return [];
    const ids = new Set<string>();
    for (const identifier of value.split(',')) {
      if (identifier === '') throw new ApiError(400, 'empty channel identifier');
      const matches = available.filter((channel) => channel.id === identifier || channel.name === identifier);
      if (matches.length === 0) throw new ApiError(400, `invalid channel identifier: ${identifier}`);
      if (matches.length > 1) throw new ApiError(400, `non-unique channel identifier: ${identifier}`);
      ids.add(matches[0]!.id);
    }
    return [...ids];
  };

  const applySpec = (check: Check | null, spec: CheckSpec, version: number): CheckFields => {
    const fields: CheckFields = check
      ? {
          name: check.name,
          slug: check.slug,
          tags: check.tags,
          description: check.description,
          kind: check.kind,
          timeout: check.timeout,
          schedule: check.schedule,
          tz: check.tz,
          grace: check.grace,
          manualResume: check.manualResume,
          methods: check.methods,
          minDuration: check.minDuration,
          failureTolerance: check.failureTolerance,
          maxRuntime: check.maxRuntime,
          filterSubject: check.filterSubject,
          filterBody: check.filterBody,
          startKw: check.startKw,
          successKw: check.successKw,
          failureKw: check.failureKw,
        }
      : { ...defaultCheckFields(''), name: '' };
    if (spec.name !== undefined && spec.name !== fields.name) {
      fields.name = spec.name;
      if (version < 3) fields.slug = slugify(spec.name);
    }
    if (spec.schedule !== undefined) {
      fields.kind = 'cron';
      fields.schedule = spec.schedule;
    } else if (spec.timeout !== undefined) {
      fields.kind = 'simple';
      fields.timeout = spec.timeout;
    }
    if (spec.slug !== undefined) fields.slug = spec.slug;
    if (spec.tags !== undefined) fields.tags = spec.tags;
    if (spec.desc !== undefined) fields.description = spec.desc;
    if (spec.manual_resume !== undefined) fields.manualResume = spec.manual_resume;
    if (spec.methods !== undefined) fields.methods = spec.methods;
    if (spec.tz !== undefined) fields.tz = spec.tz;
    if (spec.grace !== undefined) fields.grace = spec.grace;
    if (spec.min_duration !== undefined) fields.minDuration = spec.min_duration;
    if (spec.failure_tolerance !== undefined) fields.failureTolerance = spec.failure_tolerance;
    if (spec.max_runtime !== undefined) fields.maxRuntime = spec.max_runtime;
    // healthchecks' deprecated v1 fields: `subject` and `subject_fail` are the success and failure keywords
    // of the subject filter, which is on while either is set.
    if (spec.subject !== undefined) {
      fields.successKw = spec.subject;
      fields.filterSubject = fields.successKw !== '' || fields.failureKw !== '';
    }
    if (spec.subject_fail !== undefined) {
      fields.failureKw = spec.subject_fail;
      fields.filterSubject = fields.successKw !== '' || fields.failureKw !== '';
    }
    if (spec.filter_subject !== undefined) fields.filterSubject = spec.filter_subject;
    if (spec.filter_body !== undefined) fields.filterBody = spec.filter_body;
    if (spec.start_kw !== undefined) fields.startKw = spec.start_kw;
    if (spec.success_kw !== undefined) fields.successKw = spec.success_kw;
    if (spec.failure_kw !== undefined) fields.failureKw = spec.failure_kw;
    return fields;
  };

  const findUnique = (accountId: string, spec: CheckSpec): Check | null => {
    if (!spec.unique || spec.unique.length === 0) return null;
    for (const field of spec.unique) if (spec[field] === undefined) return null;
    return (
      repository
        .checksOfAccount(accountId)
        .find(
          (check) =>
            (!spec.unique!.includes('name') || check.name === spec.name) &&
            (!spec.unique!.includes('slug') || check.slug === spec.slug) &&
            (!spec.unique!.includes('tags') || check.tags === spec.tags) &&
            (!spec.unique!.includes('timeout') ||
              (check.kind === 'simple' && check.timeout === spec.timeout)) &&
            (!spec.unique!.includes('grace') || check.grace === spec.grace),
        ) ?? null
    );
  };

  const parseSpec = (body: unknown) => {
    try {
      return parseCheckSpec(body);
    } catch (error) {
      if (error instanceof SpecError) throw new ApiError(400, error.message);
      throw error;
    }
  };

  const updateChannel = app.database.transaction(
    (accountId: string, channel: Parameters<typeof repository.updateChannel>[1]) =>
      repository.updateChannel(accountId, channel),
  );
  const deleteChannel = app.database.transaction((accountId: string, channelId: string) =>
    repository.deleteChannel(accountId, channelId),
  );
  const ownChannel = (accountId: string, channelId: string) => {
    const channel = repository.channelsOfAccount(accountId).find((candidate) => candidate.id === channelId);
    if (!channel) throw notFound();
    return channel;
  };
  const parseChannelBody = <T extends z.ZodType>(schema: T, body: unknown): z.output<T> => {
    const parsed = schema.safeParse(body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ApiError(400, `json validation error: ${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    return parsed.data;
  };
  /** The stored target of a channel: its email address, or its URL once the SSRF guard admitted it. */
  const channelTarget = async (kind: ChannelKind, url: string | undefined, email: string | undefined) => {
    if (kind === 'email') {
      if (!email) throw new ApiError(400, 'json validation error: email is required for an email channel');
      return email;
    }
    if (!url) throw new ApiError(400, `json validation error: url is required for a ${kind} channel`);
    try {
      return (await checkOutboundUrl(url, allowlist)).url.toString();
    } catch (error) {
      if (error instanceof OutboundBlockedError) throw new ApiError(400, error.message);
      throw new ApiError(400, `url does not resolve: ${(error as Error).message}`);
    }
  };

  for (const version of [1, 2, 3]) {
    app.register(
      async (plain) => {
        const scope = plain.withTypeProvider<ZodTypeProvider>();
        scope.setErrorHandler(apiErrorHandler);
        scope.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not found' }));
        // healthchecks reads the API body as JSON whatever its Content-Type, and its documented examples
        // (`curl --data '{...}'`) send application/x-www-form-urlencoded: every API body is read as JSON here.
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
          try {
            done(null, body === '' ? undefined : JSON.parse(body as string));
          } catch {
            done(
              Object.assign(new Error('could not parse request body'), {
                statusCode: 400,
                code: 'FST_ERR_CTP_INVALID_JSON_BODY',
              }),
              undefined,
            );
          }
        });
        // healthchecks' @cors: browsers may call the API with an X-Api-Key header from any origin.
        scope.addHook('onRequest', async (_request, reply) => {
          reply.headers({
            'access-control-allow-origin': '*',
            'access-control-allow-headers': 'X-Api-Key',
            'access-control-allow-methods': 'GET, POST, PATCH, DELETE, OPTIONS',
            'access-control-max-age': '600',
          });
        });
        scope.options(
          '/*',
          { schema: { hide: true }, config: { rateLimit: false } },
          async (_request, reply) => reply.code(204).send(),
        );

        for (const path of ['/status', '/status/']) {
          scope.get(
            path,
            {
              schema: {
                tags: ['api'],
                summary: 'Liveness of the API (healthchecks: "OK")',
                response: { 200: z.string() },
              },
            },
            async (_request, reply) => reply.type('text/plain; charset=utf-8').send('OK'),
          );
        }

        scope.register(async (plainAuthed) => {
          const authed = plainAuthed.withTypeProvider<ZodTypeProvider>();
          // The X-Api-Key header is resolved as soon as the request arrives. Without it, healthchecks also
          // accepts the key as `api_key` in a JSON body: that one can only be read once the body is parsed,
          // so it is resolved in preValidation, through the same billing hook (same 401s, same failed-key
          // limiter, and before the preHandler rate limiter, which needs the account). A header always wins.
          const byHeader = billing.authenticate({ extractKey: headerKey, allowReadOnlyWrites: true });
          const byBody = billing.authenticate({ extractKey: bodyKey, allowReadOnlyWrites: true });
          authed.addHook('onRequest', async (request, reply) => {
            if (headerKey(request) !== undefined) await byHeader(request, reply);
          });
          authed.addHook('preValidation', async (request, reply) => {
            if (!request.principal) await byBody(request, reply);
          });
          const principal = (request: FastifyRequest) => request.principal!;
          const requireWrite = (request: FastifyRequest) => {
            // healthchecks answers a read-only key on a write endpoint as an unknown key.
            if (principal(request).readOnly) throw new ApiError(401, 'wrong api key');
            return principal(request).account.id;
          };
          const toJson = (request: FastifyRequest, check: Check, readOnly = principal(request).readOnly) =>
            checkJson(check, {
              baseUrl,
              version,
              readOnly,
              now: clock.now(),
              channelIds: () => repository.channelIdsOfCheck(check.id),
            });
          const ownCheck = (request: FastifyRequest, code: string, allowUniqueKey = false): Check => {
            const accountId = principal(request).account.id;
            if (UUID.test(code)) {
              const check = repository.checkOfAccount(accountId, code);
              if (check) return check;
              throw notFound();
            }
            if (allowUniqueKey && SHA1.test(code)) {
              const match = repository
                .checksOfAccount(accountId)
                .find((check) => uniqueKeyOf(check.code) === code);
              if (match) return match;
            }
            throw notFound();
          };
          const withSlash = (path: string) => [path, `${path}/`];
          const security = [{ apiKey: [] }];

          for (const path of withSlash('/checks')) {
            authed.get(
              path,
              {
                schema: {
                  tags: ['api'],
                  summary: 'List checks (filter by ?tag= (repeatable, all must match) and ?slug=)',
                  security,
                  querystring: z.looseObject({
                    tag: z.union([z.string(), z.array(z.string())]).optional(),
                    slug: z.string().optional(),
                  }),
                  response: { 200: z.object({ checks: z.array(checkJsonSchema) }), ...errors },
                },
              },
              async (request) => {
                const wanted = request.query.tag === undefined ? [] : [request.query.tag].flat();
                const checks = repository
                  .checksOfAccount(principal(request).account.id)
                  .filter((check) => request.query.slug === undefined || check.slug === request.query.slug)
                  .filter((check) => wanted.every((tag) => tagsOf(check).includes(tag)));
                return { checks: checks.map((check) => toJson(request, check)) };
              },
            );
            authed.post(
              path,
              {
                schema: {
                  tags: ['api'],
                  summary: 'Create a check (or, with "unique", return the matching one after updating it)',
                  security,
                  body: z.unknown(),
                  response: { 200: checkJsonSchema, 201: checkJsonSchema, ...errors },
                },
              },
              async (request, reply) => {
                const accountId = requireWrite(request);
                const spec = parseSpec(request.body);
                const existing = findUnique(accountId, spec);
                if (!existing) {
                  const count = repository.countChecks(accountId);
                  const allowed = monitor.limitOf(accountId, 'checks');
                  if (count >= allowed) {
                    throw new ApiError(
                      403,
                      `the ${principal(request).account.plan} plan allows ${allowed} checks; upgrade the plan to add more`,
                    );
                  }
                }
                const channelIds = resolveChannels(accountId, spec.channels);
                const saved = saveCheck(accountId, existing, applySpec(existing, spec, version), channelIds);
                if (saved.alertAfter !== null) monitor.scheduler.notifyDeadline(saved.alertAfter);
                const check = repository.checkById(saved.id)!;
                return reply.code(existing ? 200 : 201).send(toJson(request, check, false));
              },
            );
          }

          authed.get(
            '/checks/:code',
            {
              schema: {
                tags: ['api'],
                summary: 'Get a check by UUID, or by unique_key (read-only keys)',
                security,
                params: z.object({ code: z.string() }),
                response: { 200: checkJsonSchema, ...errors },
              },
            },
            async (request) => toJson(request, ownCheck(request, request.params.code, true)),
          );
          authed.post(
            '/checks/:code',
            {
              schema: {
                tags: ['api'],
                summary: 'Update a check',
                security,
                params: z.object({ code: z.string() }),
                body: z.unknown(),
                response: { 200: checkJsonSchema, ...errors },
              },
            },
            async (request) => {
              const accountId = requireWrite(request);
              const check = ownCheck(request, request.params.code);
              const spec = parseSpec(request.body);
              const channelIds = resolveChannels(accountId, spec.channels);
              const saved = saveCheck(accountId, check, applySpec(check, spec, version), channelIds);
              if (saved.alertAfter !== null) monitor.scheduler.notifyDeadline(saved.alertAfter);
              return toJson(request, repository.checkById(check.id)!);
            },
          );
          authed.delete(
            '/checks/:code',
            {
              schema: {
                tags: ['api'],
                summary: 'Delete a check (answers the check as it was)',
                security,
                params: z.object({ code: z.string() }),
                response: { 200: checkJsonSchema, ...errors },
              },
            },
            async (request) => {
              requireWrite(request);
              const check = ownCheck(request, request.params.code);
              const json = toJson(request, check);
              deleteCheck(check.id);
              return json;
            },
          );
          authed.post(
            '/checks/:code/pause',
            {
              schema: {
                tags: ['api'],
                summary: 'Pause monitoring: no alerts until the next ping (or resume, with manual_resume)',
                security,
                params: z.object({ code: z.string() }),
                response: { 200: checkJsonSchema, ...errors },
              },
            },
            async (request) => {
              requireWrite(request);
              const check = ownCheck(request, request.params.code);
              setState(
                check,
                { ...check, status: 'paused', lastStart: null, lastStartRid: null, alertAfter: null },
                check.status === 'paused' ? null : { to: 'paused' },
              );
              return toJson(request, repository.checkById(check.id)!);
            },
          );
          authed.post(
            '/checks/:code/resume',
            {
              schema: {
                tags: ['api'],
                summary: 'Resume a paused check (it becomes new)',
                security,
                params: z.object({ code: z.string() }),
                response: { 200: checkJsonSchema, ...errors },
              },
            },
            async (request) => {
              requireWrite(request);
              const check = ownCheck(request, request.params.code);
              if (check.status !== 'paused') throw new ApiError(409, 'check is not paused');
              setState(
                check,
                {
                  ...check,
                  status: 'new',
                  lastStart: null,
                  lastStartRid: null,
                  lastPing: null,
                  consecutiveFailures: 0,
                  alertAfter: null,
                },
                { to: 'new' },
              );
              return toJson(request, repository.checkById(check.id)!);
            },
          );

          const pingJson = z.looseObject({
            type: z.string(),
            date: z.string(),
            n: z.number(),
            scheme: z.string(),
            remote_addr: z.string(),
            method: z.string(),
            ua: z.string(),
            rid: z.string().nullable(),
            duration: z.number().nullable(),
            exitstatus: z.number().optional(),
            body_url: z.string().optional(),
          });
          for (const path of withSlash('/checks/:code/pings')) {
            authed.get(
              path,
              {
                schema: {
                  tags: ['api'],
                  summary: "A check's logged pings, newest first (as many as the plan keeps)",
                  security,
                  params: z.object({ code: z.string() }),
                  response: { 200: z.object({ pings: z.array(pingJson) }), ...errors },
                },
              },
              async (request) => {
                const accountId = requireWrite(request);
                const check = ownCheck(request, request.params.code);
                const pings = repository.listPings(check.id, monitor.limitOf(accountId, 'pingHistory'));
                return {
                  pings: pings.map((ping) => ({
                    type: ping.kind,
                    date: iso(ping.created),
                    n: ping.n,
                    scheme: ping.scheme,
                    remote_addr: ping.remoteAddr,
                    method: ping.method,
                    ua: ping.ua,
                    rid: ping.rid,
                    duration: ping.duration === null ? null : ping.duration / 1000,
                    ...(ping.exitstatus === null ? {} : { exitstatus: ping.exitstatus }),
                    ...(ping.bodySize > 0
                      ? { body_url: `${baseUrl}/api/v${version}/checks/${check.code}/pings/${ping.n}/body` }
                      : {}),
                  })),
                };
              },
            );
          }
          authed.get(
            '/checks/:code/pings/:n/body',
            {
              schema: {
                tags: ['api'],
                summary: "A logged ping's body, as sent (up to PING_BODY_LIMIT bytes)",
                security,
                params: z.object({ code: z.string(), n: z.string().regex(/^\d+$/) }),
                response: { 200: z.any(), ...errors },
              },
            },
            async (request, reply) => {
              requireWrite(request);
              const check = ownCheck(request, request.params.code);
              const body = repository.pingBody(check.id, Number(request.params.n));
              if (!body || body.length === 0) throw notFound();
              return reply.type('text/plain').send(body);
            },
          );

          for (const path of withSlash('/checks/:code/flips')) {
            authed.get(
              path,
              {
                schema: {
                  tags: ['api'],
                  summary: "A check's status changes (?start=, ?end= as UNIX seconds, or ?seconds=)",
                  security,
                  params: z.object({ code: z.string() }),
                  querystring: z.looseObject({
                    start: z.string().regex(/^\d+$/).optional(),
                    end: z.string().regex(/^\d+$/).optional(),
                    seconds: z.string().regex(/^\d+$/).optional(),
                  }),
                  response: {
                    200: z.object({ flips: z.array(z.object({ timestamp: z.string(), up: z.number() })) }),
                    ...errors,
                  },
                },
              },
              async (request) => {
                const check = ownCheck(request, request.params.code, true);
                const { start, end, seconds } = request.query;
                let from = start === undefined ? 0 : Number(start) * 1000;
                if (seconds !== undefined) from = Math.max(from, clock.now() - Number(seconds) * 1000);
                const to = end === undefined ? Number.MAX_SAFE_INTEGER : Number(end) * 1000;
                return {
                  flips: repository.listFlips(check.id, from, to).map((flip) => ({
                    timestamp: iso(Math.floor(flip.created / 1000) * 1000),
                    up: flip.newStatus === 'up' ? 1 : 0,
                  })),
                };
              },
            );
          }

          const channelJson = z.object({ id: z.string(), name: z.string(), kind: z.string() });
          for (const path of withSlash('/channels')) {
            authed.get(
              path,
              {
                schema: {
                  tags: ['api'],
                  summary: 'List integrations (alert channels)',
                  security,
                  response: { 200: z.object({ channels: z.array(channelJson) }), ...errors },
                },
              },
              async (request) => {
                const accountId = requireWrite(request);
                return {
                  channels: repository
                    .channelsOfAccount(accountId)
                    .map((channel) => ({ id: channel.id, name: channel.name, kind: channel.kind })),
                };
              },
            );
            authed.post(
              path,
              {
                schema: {
                  tags: ['api'],
                  summary: 'Create an alert channel (a CronPing extension): webhook, slack or email',
                  security,
                  body: z.unknown(),
                  response: { 201: channelJson, ...errors },
                },
              },
              async (request, reply) => {
                const accountId = requireWrite(request);
                const { name, kind, url, email } = parseChannelBody(channelCreateBody, request.body);
                const target = await channelTarget(kind, url, email);
                const channel = { id: randomUUID(), accountId, name, kind, target, createdAt: clock.now() };
                createChannel(channel);
                return reply.code(201).send({ id: channel.id, name, kind });
              },
            );
          }
          // CronPing's extension: edit and delete a channel. Another account's channel is 404.
          const channelParams = z.object({ id: z.string() });
          authed.patch(
            '/channels/:id',
            {
              schema: {
                tags: ['api'],
                summary:
                  'Edit an alert channel (a CronPing extension): any of name, kind, url, email; a new kind needs its target',
                security,
                params: channelParams,
                body: z.unknown(),
                response: { 200: channelJson, ...errors },
              },
            },
            async (request) => {
              const accountId = requireWrite(request);
              const existing = ownChannel(accountId, request.params.id);
              const changes = parseChannelBody(channelUpdateBody, request.body);
              const kind = changes.kind ?? existing.kind;
              const name = changes.name ?? existing.name;
              const target =
                changes.url === undefined && changes.email === undefined && kind === existing.kind
                  ? existing.target
                  : await channelTarget(kind, changes.url, changes.email);
              updateChannel(accountId, { id: existing.id, name, kind, target });
              return { id: existing.id, name, kind };
            },
          );
          authed.delete(
            '/channels/:id',
            {
              schema: {
                tags: ['api'],
                summary:
                  'Delete an alert channel (a CronPing extension): detached from its checks, its undelivered alerts dropped',
                security,
                params: channelParams,
                response: { 200: channelJson, ...errors },
              },
            },
            async (request) => {
              const accountId = requireWrite(request);
              const existing = ownChannel(accountId, request.params.id);
              deleteChannel(accountId, existing.id);
              return { id: existing.id, name: existing.name, kind: existing.kind };
            },
          );

          for (const path of withSlash('/badges')) {
            const badgeUrls = z.record(z.string(), z.record(z.string(), z.string()));
            authed.get(
              path,
              {
                schema: {
                  tags: ['api'],
                  summary: "The account's badge URLs, per tag and for all checks (*)",
                  security,
                  response: { 200: z.object({ badges: badgeUrls }), ...errors },
                },
              },
              async (request) => {
                const accountId = principal(request).account.id;
                const { badgeKey } = repository.accountKeys(accountId);
                const tags = new Set(['*']);
                for (const check of repository.checksOfAccount(accountId))
                  for (const tag of tagsOf(check)) tags.add(tag);
                const badges: Record<string, Record<string, string>> = {};
                for (const tag of tags) {
                  const url = (states: number, format: string) =>
                    `${baseUrl}/badge/${badgeKey}/${states}/${encodeURIComponent(tag)}.${format}`;
                  badges[tag] = {
                    svg: url(2, 'svg'),
                    svg3: url(3, 'svg'),
                    json: url(2, 'json'),
                    json3: url(3, 'json'),
                    shields: url(2, 'shields'),
                    shields3: url(3, 'shields'),
                  };
                }
                return { badges };
              },
            );
          }

          authed.get(
            '/schedule/preview',
            {
              schema: {
                tags: ['api'],
                summary: 'The next fire times of a cron expression (a CronPing extension)',
                security,
                querystring: z.object({
                  schedule: z.string().min(1).max(100),
                  tz: z.string().default('UTC'),
                  after: z.string().optional(),
                  count: z.coerce.number().int().min(1).max(100).default(5),
                }),
                response: {
                  200: z.object({ schedule: z.string(), tz: z.string(), next: z.array(z.string()) }),
                  ...errors,
                },
              },
            },
            async (request) => {
              const { schedule, tz, after, count } = request.query;
              if (!isValidTimezone(tz)) throw new ApiError(400, `${tz} is not a valid timezone`);
              const afterMs = after === undefined ? clock.now() : Date.parse(after);
              if (Number.isNaN(afterMs)) throw new ApiError(400, 'after is not an ISO 8601 date');
              try {
                const fires = previewCron(schedule, tz, afterMs, count);
                if (fires.length === 0) throw new ScheduleError('the expression never fires');
                return { schedule, tz, next: fires.map((ms) => new Date(ms).toISOString()) };
              } catch (error) {
                if (error instanceof ScheduleError) {
                  throw new ApiError(400, `schedule is not a valid cron expression: ${error.message}`);
                }
                throw error;
              }
            },
          );
        });
      },
      { prefix: `/api/v${version}` },
    );
  }
}
