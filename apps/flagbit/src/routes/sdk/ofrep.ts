import { createHash } from 'node:crypto';
import type { ServiceInstance } from '@studio/service-kit';
import { AppError } from '@studio/service-kit';
import type { FastifyError } from 'fastify';
import { z } from 'zod';
import type { Evaluation } from '../../evaluation/engine';
import type { Context } from '../../evaluation/types';
import { sdkRouteConfig, sdkSecurity } from './client';
import { buildContext } from './context';

/**
 * The OpenFeature Remote Evaluation Protocol. Values: a flag whose evaluation picked a variant answers the
 * variant's payload, typed (json → object, number → number, string/csv → string; no payload → the variant's
 * name); any other flag answers its on/off state as a boolean. Reasons: DISABLED (flag off in the
 * environment), DEFAULT (on, but no strategy matched), STATIC (on for everyone), TARGETING_MATCH (a
 * constraint, user list or address matched), SPLIT (a rollout or a variant split decided).
 */
interface OfrepSuccess {
  key: string;
  value?: unknown;
  reason: string;
  variant?: string;
  metadata: Record<string, string | number | boolean>;
}

/**
 * A disabled flag that carries variants has no value of its own to give: its off state is not a string,
 * number or object, and answering `false` would make every typed call a TYPE_MISMATCH error. OFREP's
 * "code default" success (protocol ADR 0006, `codeDefaultFlag`: `key` + `reason`, no `value`/`variant`) says
 * exactly "use the caller's default, reason DISABLED"; flagd answers disabled flags the same way and
 * `@openfeature/ofrep-core` 2.x resolves it to the default value with reason DISABLED. (Unleash's own SDKs
 * agree in substance: `getVariant` of a disabled flag is the `disabled` variant, without payload, and the
 * application falls back to its default.) A disabled boolean flag keeps answering `false`: for an on/off
 * flag, off is its value, as Unleash's `isEnabled` says.
 */
function toOfrep(evaluation: Evaluation, revision: number, hasVariants: boolean): OfrepSuccess {
  if (!evaluation.enabled && evaluation.reason === 'DISABLED' && hasVariants) {
    return { key: evaluation.name, reason: 'DISABLED', metadata: { revision } };
  }
  const { variant } = evaluation;
  let value: unknown = evaluation.enabled;
  let variantName = evaluation.enabled ? 'on' : 'off';
  if (evaluation.enabled && variant.enabled) {
    variantName = variant.name;
    value = variant.name;
    const payload = variant.payload;
    if (payload) {
      if (payload.type === 'json') {
        try {
          value = JSON.parse(payload.value);
        } catch {
          value = payload.value;
        }
      } else if (payload.type === 'number') {
        value = Number(payload.value);
      } else {
        value = payload.value;
      }
    }
  }
  return {
    key: evaluation.name,
    value,
    reason: evaluation.reason,
    variant: variantName,
    metadata: { revision },
  };
}

const contextSchema = z.object({ context: z.record(z.string(), z.unknown()).optional() }).optional();

function ofrepContext(raw: Record<string, unknown> | undefined, ip: string): Context {
  const input = { ...(raw ?? {}) };
  const { targetingKey, ...rest } = input;
  if (targetingKey !== undefined && rest.userId === undefined) rest.userId = targetingKey;
  return buildContext(rest, ip);
}

export async function ofrepRoutes(app: ServiceInstance) {
  const { snapshots } = app.flagbit;

  // OFREP clients read errors in OFREP's own shape; auth, rate-limit and plan-limit errors keep the studio
  // envelope, whose 401/403/429 statuses are what the protocol's clients act on. A spent monthly allowance is
  // a 402 `plan_limit_reached`: OFREP defines no such status, so providers treat it as an unexpected answer
  // and return the caller's default value — the same as when FlagBit is unreachable, which code using
  // OpenFeature already has to handle — while the message says why and how to lift it.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AppError) {
      if (error.headers) reply.headers(error.headers);
      return reply
        .code(error.statusCode)
        .send({ error: { code: error.code, message: error.message, requestId: request.id } });
    }
    const status = error.statusCode ?? 500;
    const key = (request.params as { key?: string } | undefined)?.key;
    if (status >= 500) {
      request.log.error({ err: error }, 'OFREP evaluation failed');
      return reply.code(500).send({ key, errorCode: 'GENERAL', errorDetails: 'Internal server error' });
    }
    const errorCode = error.validation ? 'INVALID_CONTEXT' : 'PARSE_ERROR';
    return reply.code(400).send({ key: key ?? '', errorCode, errorDetails: error.message });
  });

  app.post(
    '/ofrep/v1/evaluate/flags/:key',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['ofrep'],
        summary: 'OFREP: evaluate one flag',
        security: sdkSecurity,
        params: z.object({ key: z.string().min(1).max(255) }),
        body: contextSchema,
      },
    },
    async (request, reply) => {
      const principal = await app.flagbit.authenticateSdk(request, ['backend', 'frontend']);
      app.billing.consumeMonthly(principal.account, 'evaluationsPerMonth');
      const snapshot = snapshots.get(principal.accountId, principal.environment);
      const { key } = request.params;
      const evaluation = snapshot?.engine.evaluate(key, ofrepContext(request.body?.context, request.ip));
      reply.type('application/json; charset=utf-8');
      if (!snapshot || !evaluation) {
        return reply
          .code(404)
          .send({ key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag ${key} was not found` });
      }
      return reply.send(toOfrep(evaluation, snapshot.revision, snapshot.variantFlags.has(key)));
    },
  );

  app.post(
    '/ofrep/v1/evaluate/flags',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['ofrep'],
        summary: 'OFREP: evaluate every flag (ETag / If-None-Match → 304)',
        security: sdkSecurity,
        body: contextSchema,
      },
    },
    async (request, reply) => {
      const principal = await app.flagbit.authenticateSdk(request, ['backend', 'frontend']);
      app.billing.consumeMonthly(principal.account, 'evaluationsPerMonth');
      const snapshot = snapshots.get(principal.accountId, principal.environment);
      const context = ofrepContext(request.body?.context, request.ip);
      const flags = snapshot
        ? snapshot.engine.names.map((name) =>
            toOfrep(
              snapshot.engine.evaluate(name, context)!,
              snapshot.revision,
              snapshot.variantFlags.has(name),
            ),
          )
        : [];
      const body = JSON.stringify({ flags });
      // The ETag covers the answer for this context: the same flags and the same context give the same tag.
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      reply.header('etag', etag).type('application/json; charset=utf-8');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.send(body);
    },
  );
}
