import { randomUUID } from 'node:crypto';
import { AppError, type ServiceInstance } from '@studio/service-kit';
import { z } from 'zod';
import type { Dependency } from '../../evaluation/types';
import type { FlagRow } from '../../repository';
import {
  dependenciesInputSchema,
  flagNameSchema,
  strategyInputSchema,
  toStrategyDefinition,
  variantsInputSchema,
  weighVariants,
} from '../../schemas';
import {
  adminOf,
  environmentParams,
  requireEnvironment,
  requireFlag,
  security,
  strategyOutput,
  variantOutput,
} from './common';

const flagTypes = ['release', 'experiment', 'operational', 'kill-switch', 'permission'] as const;

const dependencyOutput = z.object({
  feature: z.string(),
  enabled: z.boolean().optional(),
  variants: z.array(z.string()).optional(),
});
const flagSummary = z.object({
  name: z.string(),
  project: z.string(),
  type: z.string(),
  description: z.string().nullable(),
  impressionData: z.boolean(),
  stale: z.boolean(),
  dependencies: z.array(dependencyOutput),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const flagEnvironmentOutput = z.object({
  name: z.string(),
  enabled: z.boolean(),
  variants: z.array(variantOutput),
  strategies: z.array(strategyOutput),
});
const flagOutput = flagSummary.extend({ environments: z.array(flagEnvironmentOutput) });

const flagParams = z.object({ flagName: z.string().min(1).max(255) });
const flagEnvironmentParams = flagParams.extend(environmentParams.shape);
const strategyParams = flagEnvironmentParams.extend({ strategyId: z.string().min(1).max(100) });

/** Flags, their per-environment enablement, variants and strategies. */
export function registerFlagRoutes(app: ServiceInstance) {
  const { repository, store } = app.flagbit;

  const summary = (flag: FlagRow) => ({ ...flag, dependencies: flag.dependencies ?? [] });
  const strategiesOf = (accountId: string, environment: string, flagName: string) =>
    repository
      .listStrategies(accountId, environment, flagName)
      .map((s) => ({ id: s.id, sortOrder: s.sortOrder, ...s.definition }));
  const view = (accountId: string, flag: FlagRow) => ({
    ...summary(flag),
    environments: repository.flagEnvironments(accountId, flag.name).map((e) => ({
      name: e.environment,
      enabled: e.enabled,
      variants: e.variants,
      strategies: strategiesOf(accountId, e.environment, flag.name),
    })),
  });
  const allEnvironments = (accountId: string) => repository.listEnvironments(accountId).map((e) => e.name);

  /** Parents must exist in the same project, have no parents themselves, and the child must have no children. */
  const checkDependencies = (
    accountId: string,
    flag: { name: string; project: string },
    dependencies: Dependency[],
  ) => {
    if (dependencies.length === 0) return;
    const children = repository.childrenOf(accountId, flag.name);
    if (children.length) {
      throw new AppError(
        'validation_failed',
        `${flag.name} is a parent of ${children.join(', ')}; a parent cannot depend on another flag`,
      );
    }
    for (const dependency of dependencies) {
      if (dependency.feature === flag.name)
        throw new AppError('validation_failed', 'A flag cannot depend on itself');
      const parent = repository.findFlag(accountId, dependency.feature);
      if (!parent || parent.project !== flag.project) {
        throw new AppError(
          'validation_failed',
          `Parent flag ${dependency.feature} does not exist in project ${flag.project}`,
        );
      }
      if (parent.dependencies?.length) {
        throw new AppError(
          'validation_failed',
          `Parent flag ${dependency.feature} has parents itself; only one level is allowed`,
        );
      }
    }
  };

  app.get(
    '/api/admin/flags',
    {
      schema: {
        tags: ['flags'],
        summary: 'List flags, optionally of one project',
        security,
        querystring: z.object({ project: z.string().optional() }),
        response: { 200: z.object({ flags: z.array(flagSummary) }) },
      },
    },
    async (request) => ({
      flags: repository.listFlags(adminOf(request).accountId, request.query.project).map(summary),
    }),
  );

  app.post(
    '/api/admin/flags',
    {
      schema: {
        tags: ['flags'],
        summary: 'Create a flag (disabled in every environment)',
        security,
        body: z
          .object({
            name: flagNameSchema,
            project: z.string().min(1).max(100).default('default'),
            type: z.enum(flagTypes).default('release'),
            description: z.string().max(2000).nullable().default(null),
            impressionData: z.boolean().default(false),
            dependencies: dependenciesInputSchema.default([]),
          })
          .strict(),
        response: { 201: flagOutput },
      },
    },
    async (request, reply) => {
      const { account, accountId, actor } = adminOf(request);
      const body = request.body;
      const flag = store.change(accountId, actor, () => {
        if (!repository.findProject(accountId, body.project))
          throw new AppError('not_found', `Project ${body.project} not found`);
        if (repository.findFlag(accountId, body.name))
          throw new AppError('conflict', `Flag ${body.name} already exists`);
        app.billing.assertBelowLimit(account, 'flags', repository.countFlags(accountId));
        checkDependencies(accountId, body, body.dependencies);
        const row = {
          ...body,
          stale: false,
          dependencies: body.dependencies.length ? body.dependencies : null,
        };
        repository.insertFlag(accountId, row, store.now());
        const created = view(accountId, repository.findFlag(accountId, body.name)!);
        return {
          result: created,
          environments: allEnvironments(accountId),
          audit: [
            {
              action: 'flag-created',
              resource: `flag:${body.name}`,
              after: summary(repository.findFlag(accountId, body.name)!),
            },
          ],
        };
      });
      return reply.code(201).send(flag);
    },
  );

  app.get(
    '/api/admin/flags/:flagName',
    {
      schema: {
        tags: ['flags'],
        summary: 'A flag with its settings in every environment',
        security,
        params: flagParams,
        response: { 200: flagOutput },
      },
    },
    async (request) => {
      const { accountId } = adminOf(request);
      return view(accountId, requireFlag(app, accountId, request.params.flagName));
    },
  );

  app.patch(
    '/api/admin/flags/:flagName',
    {
      schema: {
        tags: ['flags'],
        summary: "Change a flag's type, description, impression data, staleness or parents",
        security,
        params: flagParams,
        body: z
          .object({
            type: z.enum(flagTypes).optional(),
            description: z.string().max(2000).nullable().optional(),
            impressionData: z.boolean().optional(),
            stale: z.boolean().optional(),
            dependencies: dependenciesInputSchema.optional(),
          })
          .strict(),
        response: { 200: flagOutput },
      },
    },
    async (request) => {
      const { accountId, actor } = adminOf(request);
      return store.change(accountId, actor, () => {
        const before = requireFlag(app, accountId, request.params.flagName);
        const { dependencies, ...rest } = request.body;
        if (dependencies) checkDependencies(accountId, before, dependencies);
        const next = {
          ...before,
          ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
          dependencies: dependencies ? (dependencies.length ? dependencies : null) : before.dependencies,
        };
        repository.updateFlag(accountId, next, store.now());
        const after = repository.findFlag(accountId, before.name)!;
        return {
          result: view(accountId, after),
          environments: allEnvironments(accountId),
          audit: [
            {
              action: 'flag-updated',
              resource: `flag:${before.name}`,
              before: summary(before),
              after: summary(after),
            },
          ],
        };
      });
    },
  );

  app.delete(
    '/api/admin/flags/:flagName',
    {
      schema: {
        tags: ['flags'],
        summary: 'Delete a flag everywhere',
        security,
        params: flagParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      store.change(accountId, actor, () => {
        const before = requireFlag(app, accountId, request.params.flagName);
        const children = repository.childrenOf(accountId, before.name);
        if (children.length)
          throw new AppError('conflict', `${before.name} is a parent of ${children.join(', ')}`);
        const snapshot = view(accountId, before);
        repository.deleteFlag(accountId, before.name);
        return {
          result: null,
          environments: allEnvironments(accountId),
          audit: [{ action: 'flag-deleted', resource: `flag:${before.name}`, before: snapshot }],
        };
      });
      return reply.code(204).send(null);
    },
  );

  const requireFlagEnvironment = (accountId: string, flagName: string, environment: string) => {
    requireFlag(app, accountId, flagName);
    requireEnvironment(app, accountId, environment);
    const row = repository.findFlagEnvironment(accountId, flagName, environment);
    if (!row) throw new AppError('not_found', `Flag ${flagName} is not in environment ${environment}`);
    return row;
  };

  app.patch(
    '/api/admin/flags/:flagName/environments/:environment',
    {
      schema: {
        tags: ['flags'],
        summary: 'Turn a flag on or off in one environment',
        security,
        params: flagEnvironmentParams,
        body: z.object({ enabled: z.boolean() }).strict(),
        response: { 200: flagEnvironmentOutput },
      },
    },
    async (request) => {
      const { accountId, actor } = adminOf(request);
      const { flagName, environment } = request.params;
      return store.change(accountId, actor, () => {
        const before = requireFlagEnvironment(accountId, flagName, environment);
        repository.saveFlagEnvironment(
          accountId,
          flagName,
          environment,
          request.body.enabled,
          before.variants,
        );
        return {
          result: {
            name: environment,
            enabled: request.body.enabled,
            variants: before.variants,
            strategies: strategiesOf(accountId, environment, flagName),
          },
          environments: [environment],
          audit: [
            {
              action: request.body.enabled ? 'flag-enabled' : 'flag-disabled',
              resource: `flag:${flagName}`,
              environment,
              before: { enabled: before.enabled },
              after: { enabled: request.body.enabled },
            },
          ],
        };
      });
    },
  );

  app.put(
    '/api/admin/flags/:flagName/environments/:environment/variants',
    {
      schema: {
        tags: ['flags'],
        summary: "Replace a flag's variants in one environment (weights out of 1000)",
        security,
        params: flagEnvironmentParams,
        body: z.object({ variants: variantsInputSchema }).strict(),
        response: { 200: z.object({ variants: z.array(variantOutput) }) },
      },
    },
    async (request) => {
      const { accountId, actor } = adminOf(request);
      const { flagName, environment } = request.params;
      return store.change(accountId, actor, () => {
        const before = requireFlagEnvironment(accountId, flagName, environment);
        const variants = weighVariants(request.body.variants);
        repository.saveFlagEnvironment(accountId, flagName, environment, before.enabled, variants);
        return {
          result: { variants },
          environments: [environment],
          audit: [
            {
              action: 'variants-updated',
              resource: `flag:${flagName}`,
              environment,
              before: before.variants,
              after: variants,
            },
          ],
        };
      });
    },
  );

  const checkSegments = (accountId: string, environment: string, segments: number[]) => {
    for (const id of segments) {
      if (!repository.findSegment(accountId, environment, id)) {
        throw new AppError(
          'validation_failed',
          `Segment ${id} does not exist in environment ${environment}`,
          [{ path: '/body/segments', message: `segment ${id} does not exist` }],
        );
      }
    }
  };

  app.post(
    '/api/admin/flags/:flagName/environments/:environment/strategies',
    {
      schema: {
        tags: ['strategies'],
        summary: 'Add an activation strategy',
        security,
        params: flagEnvironmentParams,
        body: strategyInputSchema,
        response: { 201: strategyOutput },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      const { flagName, environment } = request.params;
      const strategy = store.change(accountId, actor, () => {
        requireFlagEnvironment(accountId, flagName, environment);
        checkSegments(accountId, environment, request.body.segments);
        const definition = toStrategyDefinition(request.body, flagName);
        const id = `str_${randomUUID()}`;
        const sortOrder = repository.insertStrategy(
          accountId,
          id,
          flagName,
          environment,
          definition,
          request.body.sortOrder,
        );
        const created = { id, sortOrder, ...definition };
        return {
          result: created,
          environments: [environment],
          audit: [
            {
              action: 'strategy-added',
              resource: `flag:${flagName}/strategy:${id}`,
              environment,
              after: created,
            },
          ],
        };
      });
      return reply.code(201).send(strategy);
    },
  );

  app.put(
    '/api/admin/flags/:flagName/environments/:environment/strategies/:strategyId',
    {
      schema: {
        tags: ['strategies'],
        summary: 'Replace an activation strategy',
        security,
        params: strategyParams,
        body: strategyInputSchema,
        response: { 200: strategyOutput },
      },
    },
    async (request) => {
      const { accountId, actor } = adminOf(request);
      const { flagName, environment, strategyId } = request.params;
      return store.change(accountId, actor, () => {
        requireFlagEnvironment(accountId, flagName, environment);
        const before = repository.findStrategy(accountId, environment, flagName, strategyId);
        if (!before) throw new AppError('not_found', `Strategy ${strategyId} not found`);
        checkSegments(accountId, environment, request.body.segments);
        const definition = toStrategyDefinition(request.body, flagName);
        const sortOrder = request.body.sortOrder ?? before.sortOrder;
        repository.updateStrategy(accountId, strategyId, definition, sortOrder);
        const after = { id: strategyId, sortOrder, ...definition };
        return {
          result: after,
          environments: [environment],
          audit: [
            {
              action: 'strategy-updated',
              resource: `flag:${flagName}/strategy:${strategyId}`,
              environment,
              before: { id: before.id, sortOrder: before.sortOrder, ...before.definition },
              after,
            },
          ],
        };
      });
    },
  );

  app.delete(
    '/api/admin/flags/:flagName/environments/:environment/strategies/:strategyId',
    {
      schema: {
        tags: ['strategies'],
        summary: 'Remove an activation strategy',
        security,
        params: strategyParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      const { flagName, environment, strategyId } = request.params;
      store.change(accountId, actor, () => {
        requireFlagEnvironment(accountId, flagName, environment);
        const before = repository.findStrategy(accountId, environment, flagName, strategyId);
        if (!before) throw new AppError('not_found', `Strategy ${strategyId} not found`);
        repository.deleteStrategy(accountId, strategyId);
        return {
          result: null,
          environments: [environment],
          audit: [
            {
              action: 'strategy-removed',
              resource: `flag:${flagName}/strategy:${strategyId}`,
              environment,
              before: before.definition,
            },
          ],
        };
      });
      return reply.code(204).send(null);
    },
  );
}
