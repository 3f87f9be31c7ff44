import { AppError, type ServiceInstance } from '@studio/service-kit';
import { z } from 'zod';
import type { ClientFeatures } from '../../evaluation/types';
import { clientFeaturesSchema, importWarnings, withoutDisabledStrategies } from '../../schemas';
import { adminOf, environmentParams, requireEnvironment, security } from './common';

const tokenOutput = z.object({
  id: z.string(),
  type: z.enum(['backend', 'frontend']),
  environment: z.string(),
  displayPrefix: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});

/** SDK tokens, import/export, the audit log and the metrics SDKs report. */
export function registerOperationRoutes(app: ServiceInstance) {
  const { repository, store, tokens } = app.flagbit;

  app.post(
    '/api/admin/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Create an SDK token for one environment (the secret is shown once)',
        security,
        body: z
          .object({ type: z.enum(['backend', 'frontend']), environment: z.string().min(1).max(100) })
          .strict(),
        response: { 201: tokenOutput.extend({ secret: z.string() }) },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      const token = store.change(accountId, actor, () => {
        requireEnvironment(app, accountId, request.body.environment);
        const issued = tokens.issue(accountId, request.body.type, request.body.environment);
        const { secret: _secret, accountId: _account, ...safe } = issued;
        return {
          result: issued,
          environments: [],
          audit: [
            {
              action: 'token-created',
              resource: `token:${issued.id}`,
              environment: issued.environment,
              after: safe,
            },
          ],
        };
      });
      return reply.code(201).send({ ...token, revokedAt: null });
    },
  );

  app.get(
    '/api/admin/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'List SDK tokens (never their secrets)',
        security,
        response: { 200: z.object({ tokens: z.array(tokenOutput) }) },
      },
    },
    async (request) => ({ tokens: repository.listTokens(adminOf(request).accountId) }),
  );

  app.delete(
    '/api/admin/tokens/:tokenId',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Revoke an SDK token',
        security,
        params: z.object({ tokenId: z.string() }),
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      store.change(accountId, actor, () => {
        if (!repository.revokeToken(accountId, request.params.tokenId, store.now())) {
          throw new AppError('not_found', `Token ${request.params.tokenId} not found`);
        }
        return {
          result: null,
          environments: [],
          audit: [{ action: 'token-revoked', resource: `token:${request.params.tokenId}` }],
        };
      });
      tokens.forget(request.params.tokenId);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/admin/environments/:environment/import',
    {
      // A whole Unleash export can be large.
      bodyLimit: 10 * 1024 * 1024,
      schema: {
        tags: ['import-export'],
        summary:
          "Replace the environment's flags (project default) and segments with an Unleash client-features document",
        security,
        params: environmentParams,
        body: z.unknown(),
        response: {
          200: z.object({
            environment: z.string(),
            flags: z.number(),
            segments: z.number(),
            warnings: z.array(z.object({ path: z.string(), message: z.string() })),
          }),
        },
      },
    },
    async (request) => {
      const { account, accountId, actor } = adminOf(request);
      const { environment } = request.params;
      requireEnvironment(app, accountId, environment);
      const parsed = clientFeaturesSchema.safeParse(request.body);
      if (!parsed.success) {
        const details = parsed.error.issues.map((issue) => ({
          path: `/body${issue.path.map((p) => `/${String(p)}`).join('')}`,
          message: issue.message,
        }));
        throw new AppError(
          'validation_failed',
          `The document breaks the client-features schema in ${details.length} place${details.length === 1 ? '' : 's'}; nothing was imported`,
          details,
        );
      }
      // Imported exactly as given (zod dropped nothing the SDKs read): the parsed value is the document.
      const warnings = importWarnings(parsed.data as ClientFeatures);
      const document = withoutDisabledStrategies(parsed.data as ClientFeatures);
      return store.change(accountId, actor, () => {
        const before = repository.environmentDocument(accountId, environment);
        repository.replaceEnvironment(accountId, environment, 'default', document, store.now());
        app.billing.assertBelowLimit(account, 'flags', repository.countFlags(accountId) - 1);
        return {
          result: {
            environment,
            flags: document.features.length,
            segments: document.segments?.length ?? 0,
            warnings,
          },
          environments: repository.listEnvironments(accountId).map((e) => e.name),
          audit: [
            {
              action: 'environment-imported',
              resource: `environment:${environment}`,
              environment,
              before,
              after: document,
            },
          ],
        };
      });
    },
  );

  app.get(
    '/api/admin/environments/:environment/export',
    {
      schema: {
        tags: ['import-export'],
        summary: "The environment's flags and segments as an Unleash client-features document",
        security,
        params: environmentParams,
        response: { 200: z.unknown() },
      },
    },
    async (request, reply) => {
      const { accountId } = adminOf(request);
      requireEnvironment(app, accountId, request.params.environment);
      const snapshot = app.flagbit.snapshots.get(accountId, request.params.environment)!;
      return reply.type('application/json; charset=utf-8').send(snapshot.body);
    },
  );

  app.get(
    '/api/admin/events',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit log, newest first',
        security,
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(500).default(100),
          before: z.coerce.number().int().positive().optional(),
        }),
        response: {
          200: z.object({
            events: z.array(
              z.object({
                id: z.number(),
                actor: z.string(),
                action: z.string(),
                resource: z.string(),
                environment: z.string().nullable(),
                before: z.unknown(),
                after: z.unknown(),
                createdAt: z.string(),
              }),
            ),
            nextBefore: z.number().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const { accountId } = adminOf(request);
      const events = repository.listAudit(accountId, request.query.limit, request.query.before);
      const last = events.at(-1);
      return { events, nextBefore: events.length === request.query.limit && last ? last.id : null };
    },
  );

  app.get(
    '/api/admin/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Evaluation counts per flag reported by SDKs, and the SDK instances seen',
        security,
        response: {
          200: z.object({
            flags: z.array(
              z.object({
                name: z.string(),
                environment: z.string(),
                yes: z.number(),
                no: z.number(),
                variants: z.record(z.string(), z.number()),
                apps: z.array(
                  z.object({ appName: z.string(), yes: z.number(), no: z.number(), lastSeen: z.string() }),
                ),
              }),
            ),
            instances: z.array(
              z.object({
                environment: z.string(),
                appName: z.string(),
                instanceId: z.string(),
                sdkVersion: z.string().nullable(),
                lastSeen: z.string(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const { accountId } = adminOf(request);
      const { flags, variants } = repository.listMetrics(accountId);
      const byFlag = new Map<
        string,
        {
          name: string;
          environment: string;
          yes: number;
          no: number;
          variants: Record<string, number>;
          apps: { appName: string; yes: number; no: number; lastSeen: string }[];
        }
      >();
      const keyOf = (name: string, environment: string) => `${name}\u0000${environment}`;
      for (const row of flags) {
        const key = keyOf(row.flagName, row.environment);
        const entry = byFlag.get(key) ?? {
          name: row.flagName,
          environment: row.environment,
          yes: 0,
          no: 0,
          variants: {},
          apps: [],
        };
        entry.yes += row.yes;
        entry.no += row.no;
        entry.apps.push({ appName: row.appName, yes: row.yes, no: row.no, lastSeen: row.lastSeen });
        byFlag.set(key, entry);
      }
      for (const row of variants) {
        const entry = byFlag.get(keyOf(row.flagName, row.environment));
        if (entry) entry.variants[row.variant] = (entry.variants[row.variant] ?? 0) + row.count;
      }
      return { flags: [...byFlag.values()], instances: repository.listInstances(accountId) };
    },
  );
}
