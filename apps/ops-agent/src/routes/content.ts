import type { ServiceInstance } from '@studio/service-kit';
import { z } from 'zod';
import { crosspostChannels, type Pipeline, toPostView, toQueueView } from '../content/pipeline';
import { adminSecurity, errors, postSchema, queueItemSchema } from './schemas';

const idParams = z.object({ id: z.string().min(1).max(100) });
const editBody = z
  .object({ title: z.string().min(1).max(300).optional(), body: z.string().min(1).max(200_000).optional() })
  .nullish();

export function registerContentRoutes(app: ServiceInstance, pipeline: Pipeline) {
  const common = { onRequest: app.requireAdmin };
  const tags = ['content'];

  app.post(
    '/posts',
    {
      ...common,
      schema: {
        tags,
        security: adminSecurity,
        body: z.object({
          title: z.string().trim().min(1).max(300),
          slug: z
            .string()
            .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lower-case words joined by hyphens')
            .max(120)
            .optional(),
          markdown: z.string().min(1).max(500_000),
          tags: z.array(z.string().trim().min(1).max(50)).max(20).optional(),
        }),
        response: { 201: postSchema, ...errors(400, 401, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(toPostView(pipeline.createPost(request.body))),
  );

  app.get(
    '/posts',
    {
      ...common,
      schema: {
        tags,
        security: adminSecurity,
        response: { 200: z.object({ items: z.array(postSchema) }), ...errors(401) },
      },
    },
    async () => ({ items: app.ops.repo.listPosts().map(toPostView) }),
  );

  app.post(
    '/posts/:id/publish',
    {
      ...common,
      schema: {
        tags,
        summary: 'Publish to Ghost now (?source=html), read it back, and fail on an empty body',
        security: adminSecurity,
        params: idParams,
        response: {
          200: z.object({ ghostId: z.string(), url: z.string(), htmlLength: z.number() }),
          ...errors(401, 404, 422, 502, 503),
        },
      },
    },
    async (request) => pipeline.publish(request.params.id),
  );

  app.post(
    '/posts/:id/crosspost',
    {
      ...common,
      schema: {
        tags,
        summary: 'Create cross-post drafts (and a Listmonk draft campaign) in the approval queue',
        security: adminSecurity,
        params: idParams,
        body: z.object({ channels: z.array(z.enum(crosspostChannels)).min(1) }),
        response: { 201: z.object({ items: z.array(queueItemSchema) }), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) =>
      reply.code(201).send({
        items: (await pipeline.crosspost(request.params.id, request.body.channels)).map(toQueueView),
      }),
  );

  app.get(
    '/queue',
    {
      ...common,
      schema: {
        tags,
        security: adminSecurity,
        querystring: z.object({ status: queueItemSchema.shape.status.optional() }),
        response: { 200: z.object({ items: z.array(queueItemSchema) }), ...errors(400, 401) },
      },
    },
    async (request) => ({
      items: app.ops.repo
        .listQueue()
        .filter((item) => !request.query.status || item.status === request.query.status)
        .map(toQueueView),
    }),
  );

  app.put(
    '/queue/:id',
    {
      ...common,
      schema: {
        tags,
        summary: 'Edit a pending draft',
        security: adminSecurity,
        params: idParams,
        body: editBody,
        response: { 200: queueItemSchema, ...errors(400, 401, 404, 409) },
      },
    },
    async (request) => toQueueView(pipeline.edit(request.params.id, request.body ?? {})),
  );

  app.post(
    '/queue/:id/approve',
    {
      ...common,
      schema: {
        tags,
        summary:
          'Approve (optionally with edits) and send: Dev.to via the Forem API, Listmonk started, others ready by hand',
        security: adminSecurity,
        params: idParams,
        body: editBody,
        response: { 200: queueItemSchema, ...errors(400, 401, 404, 409) },
      },
    },
    async (request) => toQueueView(await pipeline.approve(request.params.id, request.body ?? {})),
  );

  app.post(
    '/queue/:id/reject',
    {
      ...common,
      schema: {
        tags,
        security: adminSecurity,
        params: idParams,
        body: z.null().optional(),
        response: { 200: queueItemSchema, ...errors(401, 404, 409) },
      },
    },
    async (request) => toQueueView(pipeline.reject(request.params.id)),
  );
}
