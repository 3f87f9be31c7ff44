import { AppError, type ServiceInstance } from '@studio/service-kit';
import { z } from 'zod';
import { constraintSchema, resourceIdSchema } from '../../schemas';
import { adminOf, environmentParams, requireEnvironment, security, segmentOutput } from './common';

const projectOutput = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  createdAt: z.string(),
});
const environmentOutput = z.object({ name: z.string(), revision: z.number(), createdAt: z.string() });

/** Projects, environments and (per environment) segments. */
export function registerProjectEnvironmentRoutes(app: ServiceInstance) {
  const { repository, store, snapshots } = app.flagbit;

  app.get(
    '/api/admin/projects',
    {
      schema: {
        tags: ['projects'],
        summary: 'List projects',
        security,
        response: { 200: z.object({ projects: z.array(projectOutput) }) },
      },
    },
    async (request) => ({ projects: repository.listProjects(adminOf(request).accountId) }),
  );

  app.post(
    '/api/admin/projects',
    {
      schema: {
        tags: ['projects'],
        summary: 'Create a project',
        security,
        body: z
          .object({
            id: resourceIdSchema,
            name: z.string().min(1).max(200),
            description: z.string().max(2000).default(''),
          })
          .strict(),
        response: { 201: projectOutput },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      const project = store.change(accountId, actor, () => {
        if (!repository.insertProject(accountId, request.body, store.now())) {
          throw new AppError('conflict', `Project ${request.body.id} already exists`);
        }
        const created = repository.findProject(accountId, request.body.id)!;
        return {
          result: created,
          environments: [],
          audit: [{ action: 'project-created', resource: `project:${created.id}`, after: created }],
        };
      });
      return reply.code(201).send(project);
    },
  );

  app.patch(
    '/api/admin/projects/:projectId',
    {
      schema: {
        tags: ['projects'],
        summary: 'Rename or describe a project',
        security,
        params: z.object({ projectId: z.string() }),
        body: z
          .object({
            name: z.string().min(1).max(200).optional(),
            description: z.string().max(2000).optional(),
          })
          .strict(),
        response: { 200: projectOutput },
      },
    },
    async (request) => {
      const { accountId, actor } = adminOf(request);
      return store.change(accountId, actor, () => {
        const before = repository.findProject(accountId, request.params.projectId);
        if (!before) throw new AppError('not_found', `Project ${request.params.projectId} not found`);
        repository.updateProject(
          accountId,
          before.id,
          request.body.name ?? before.name,
          request.body.description ?? before.description,
        );
        const after = repository.findProject(accountId, before.id)!;
        return {
          result: after,
          environments: [],
          audit: [{ action: 'project-updated', resource: `project:${before.id}`, before, after }],
        };
      });
    },
  );

  app.delete(
    '/api/admin/projects/:projectId',
    {
      schema: {
        tags: ['projects'],
        summary: 'Delete an empty project',
        security,
        params: z.object({ projectId: z.string() }),
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      store.change(accountId, actor, () => {
        const before = repository.findProject(accountId, request.params.projectId);
        if (!before) throw new AppError('not_found', `Project ${request.params.projectId} not found`);
        if (before.id === 'default') throw new AppError('conflict', 'The default project cannot be deleted');
        const flags = repository.countProjectFlags(accountId, before.id);
        if (flags > 0)
          throw new AppError(
            'conflict',
            `Project ${before.id} still has ${flags} flags; delete or move them first`,
          );
        repository.deleteProject(accountId, before.id);
        return {
          result: null,
          environments: [],
          audit: [{ action: 'project-deleted', resource: `project:${before.id}`, before }],
        };
      });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/admin/environments',
    {
      schema: {
        tags: ['environments'],
        summary: 'List environments',
        security,
        response: { 200: z.object({ environments: z.array(environmentOutput) }) },
      },
    },
    async (request) => ({ environments: repository.listEnvironments(adminOf(request).accountId) }),
  );

  app.post(
    '/api/admin/environments',
    {
      schema: {
        tags: ['environments'],
        summary: 'Create an environment (every flag gets it, disabled)',
        security,
        body: z.object({ name: resourceIdSchema }).strict(),
        response: { 201: environmentOutput },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      const environment = store.change(accountId, actor, () => {
        if (!repository.insertEnvironment(accountId, request.body.name, store.now())) {
          throw new AppError('conflict', `Environment ${request.body.name} already exists`);
        }
        const created = repository.findEnvironment(accountId, request.body.name)!;
        return {
          result: created,
          environments: [created.name],
          audit: [
            {
              action: 'environment-created',
              resource: `environment:${created.name}`,
              environment: created.name,
              after: created,
            },
          ],
        };
      });
      return reply.code(201).send({ ...environment, revision: environment.revision + 1 });
    },
  );

  app.delete(
    '/api/admin/environments/:environment',
    {
      schema: {
        tags: ['environments'],
        summary: 'Delete an environment with its flag settings, segments and SDK tokens',
        security,
        params: environmentParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      store.change(accountId, actor, () => {
        const before = requireEnvironment(app, accountId, request.params.environment);
        if (repository.listEnvironments(accountId).length === 1) {
          throw new AppError('conflict', 'An account keeps at least one environment');
        }
        repository.deleteEnvironment(accountId, before.name);
        return {
          result: null,
          environments: [],
          audit: [
            {
              action: 'environment-deleted',
              resource: `environment:${before.name}`,
              environment: before.name,
              before,
            },
          ],
        };
      });
      snapshots.drop(accountId, request.params.environment);
      app.flagbit.tokens.forgetAccount(accountId);
      return reply.code(204).send(null);
    },
  );

  // ---- segments ----
  const segmentBody = z
    .object({
      name: z.string().min(1).max(200),
      description: z.string().max(2000).default(''),
      constraints: z.array(constraintSchema).max(100),
    })
    .strict();
  const segmentParams = environmentParams.extend({ segmentId: z.coerce.number().int().positive() });

  app.get(
    '/api/admin/environments/:environment/segments',
    {
      schema: {
        tags: ['segments'],
        summary: 'List the segments of an environment',
        security,
        params: environmentParams,
        response: { 200: z.object({ segments: z.array(segmentOutput) }) },
      },
    },
    async (request) => {
      const { accountId } = adminOf(request);
      requireEnvironment(app, accountId, request.params.environment);
      return { segments: repository.listSegments(accountId, request.params.environment) };
    },
  );

  app.post(
    '/api/admin/environments/:environment/segments',
    {
      schema: {
        tags: ['segments'],
        summary: 'Create a segment',
        security,
        params: environmentParams,
        body: segmentBody,
        response: { 201: segmentOutput },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      const { environment } = request.params;
      const segment = store.change(accountId, actor, () => {
        requireEnvironment(app, accountId, environment);
        const created = { id: repository.nextSegmentId(accountId, environment), ...request.body };
        repository.saveSegment(accountId, environment, created);
        return {
          result: created,
          environments: [environment],
          audit: [
            { action: 'segment-created', resource: `segment:${created.id}`, environment, after: created },
          ],
        };
      });
      return reply.code(201).send(segment);
    },
  );

  app.put(
    '/api/admin/environments/:environment/segments/:segmentId',
    {
      schema: {
        tags: ['segments'],
        summary: 'Replace a segment',
        security,
        params: segmentParams,
        body: segmentBody,
        response: { 200: segmentOutput },
      },
    },
    async (request) => {
      const { accountId, actor } = adminOf(request);
      const { environment, segmentId } = request.params;
      return store.change(accountId, actor, () => {
        const before = repository.findSegment(accountId, environment, segmentId);
        if (!before) throw new AppError('not_found', `Segment ${segmentId} not found`);
        const after = { id: segmentId, ...request.body };
        repository.saveSegment(accountId, environment, after);
        return {
          result: after,
          environments: [environment],
          audit: [
            { action: 'segment-updated', resource: `segment:${segmentId}`, environment, before, after },
          ],
        };
      });
    },
  );

  app.delete(
    '/api/admin/environments/:environment/segments/:segmentId',
    {
      schema: {
        tags: ['segments'],
        summary: 'Delete an unused segment',
        security,
        params: segmentParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const { accountId, actor } = adminOf(request);
      const { environment, segmentId } = request.params;
      store.change(accountId, actor, () => {
        const before = repository.findSegment(accountId, environment, segmentId);
        if (!before) throw new AppError('not_found', `Segment ${segmentId} not found`);
        const users = repository.flagsUsingSegment(accountId, environment, segmentId);
        if (users.length)
          throw new AppError('conflict', `Segment ${segmentId} is used by ${users.join(', ')}`);
        repository.deleteSegment(accountId, environment, segmentId);
        return {
          result: null,
          environments: [environment],
          audit: [{ action: 'segment-deleted', resource: `segment:${segmentId}`, environment, before }],
        };
      });
      return reply.code(204).send(null);
    },
  );
}
