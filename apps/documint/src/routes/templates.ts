import { AppError, notFound, type ServiceInstance } from '@studio/service-kit';
import { accountOf } from '@studio/shared-billing';
import { z } from 'zod';
import type { Renderer } from '../rendering/renderer';
import type { DataValidator } from '../rendering/validation';
import type { DocumintRepository, TemplateVersionRecord } from '../repository';
import { builtinNames, builtins, isBuiltinName } from '../templates/builtins';
import { engineSchema, idParams } from './schemas';

export interface TemplateRouteDeps {
  repository: DocumintRepository;
  validator: DataValidator;
  renderer: Renderer;
  now: () => Date;
}

const versionSummary = z.object({
  version: z.number(),
  status: z.enum(['draft', 'published']),
  createdAt: z.string(),
  publishedAt: z.string().nullable(),
});
const templateSchema = z.object({
  id: z.string(),
  name: z.string(),
  engine: engineSchema,
  createdAt: z.string(),
  versions: z.array(versionSummary),
  publishedVersion: z.number().nullable(),
});
const builtinSchema = z.object({
  name: z.string(),
  builtin: z.literal(true),
  engines: z.array(engineSchema),
  description: z.string(),
  schema: z.record(z.string(), z.unknown()),
  sample: z.unknown(),
});
const versionBody = z
  .object({
    source: z.string().min(1).max(500_000),
    schema: z.record(z.string(), z.unknown()).describe('a JSON Schema (draft-07) for the data'),
  })
  .strict();

const summary = (version: TemplateVersionRecord) => ({
  version: version.version,
  status: version.status,
  createdAt: version.createdAt,
  publishedAt: version.publishedAt,
});

export function registerTemplateRoutes(app: ServiceInstance, deps: TemplateRouteDeps) {
  const { repository, validator, renderer } = deps;

  const describe = (id: string, accountId: string) => {
    const template = repository.findTemplate(id, accountId);
    if (!template) throw notFound('template');
    const versions = repository.versions(template.id);
    const published = versions.filter((v) => v.status === 'published').at(-1);
    return {
      id: template.id,
      name: template.name,
      engine: template.engine,
      createdAt: template.createdAt,
      versions: versions.map(summary),
      publishedVersion: published?.version ?? null,
    };
  };

  const checkVersion = (engine: 'typst' | 'chromium', source: string, schema: Record<string, unknown>) => {
    const problems: { path: string; message: string }[] = [];
    const schemaProblem = validator.checkSchema(schema);
    if (schemaProblem)
      problems.push({ path: '/schema', message: `is not a valid JSON Schema: ${schemaProblem}` });
    if (engine === 'chromium') {
      const sourceProblem = renderer.checkHandlebars(source);
      if (sourceProblem)
        problems.push({
          path: '/source',
          message: `is not a valid Handlebars template: ${sourceProblem.split('\n')[0]}`,
        });
    }
    if (problems.length > 0)
      throw new AppError('unprocessable', 'The template version is not valid', problems);
  };

  app.get(
    '/v1/templates',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['templates'],
        summary: "The built-in templates and the account's own",
        security: [{ bearerAuth: [] }],
        response: {
          200: z.object({
            builtins: z.array(z.object({ name: z.string(), description: z.string() })),
            templates: z.array(templateSchema),
          }),
        },
      },
    },
    async (request) => {
      const account = accountOf(request);
      return {
        builtins: builtinNames.map((name) => ({ name, description: builtins[name].description })),
        templates: repository.listTemplates(account.id).map((template) => describe(template.id, account.id)),
      };
    },
  );

  app.get(
    '/v1/templates/:id',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['templates'],
        summary:
          "A built-in's JSON Schema and sample data, or one of the account's templates with its versions",
        security: [{ bearerAuth: [] }],
        params: idParams,
        response: { 200: z.union([builtinSchema, templateSchema]), 404: z.unknown() },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (isBuiltinName(id)) {
        const builtin = builtins[id];
        return {
          name: builtin.name,
          builtin: true as const,
          engines: ['typst', 'chromium'] as ('typst' | 'chromium')[],
          description: builtin.description,
          schema: builtin.schema,
          sample: builtin.sample,
        };
      }
      return describe(id, accountOf(request).id);
    },
  );

  app.post(
    '/v1/templates',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['templates'],
        summary: 'Create a template; its first version is a draft',
        security: [{ bearerAuth: [] }],
        body: z
          .object({ name: z.string().min(1).max(200), engine: engineSchema })
          .extend(versionBody.shape)
          .strict(),
        response: {
          201: z.object({ id: z.string(), version: z.number(), status: z.literal('draft') }),
          402: z.unknown(),
          422: z.unknown(),
        },
      },
    },
    async (request, reply) => {
      const account = accountOf(request);
      const { name, engine, source, schema } = request.body;
      app.billing.assertBelowLimit(account, 'templates', repository.countTemplates(account.id));
      checkVersion(engine, source, schema);
      const created = repository.createTemplate({
        accountId: account.id,
        name,
        engine,
        source,
        schema: JSON.stringify(schema),
        now: deps.now().toISOString(),
      });
      return reply
        .code(201)
        .header('location', `/v1/templates/${created.id}`)
        .send({ ...created, status: 'draft' as const });
    },
  );

  app.post(
    '/v1/templates/:id/versions',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['templates'],
        summary: 'Add a new draft version (earlier versions never change)',
        security: [{ bearerAuth: [] }],
        params: idParams,
        body: versionBody,
        response: {
          201: z.object({ version: z.number(), status: z.literal('draft') }),
          404: z.unknown(),
          422: z.unknown(),
        },
      },
    },
    async (request, reply) => {
      const template = repository.findTemplate(request.params.id, accountOf(request).id);
      if (!template) throw notFound('template');
      checkVersion(template.engine, request.body.source, request.body.schema);
      const version = repository.addVersion({
        templateId: template.id,
        source: request.body.source,
        schema: JSON.stringify(request.body.schema),
        now: deps.now().toISOString(),
      });
      return reply.code(201).send({ version, status: 'draft' as const });
    },
  );

  const versionParams = idParams.extend({ version: z.coerce.number().int().min(1) });

  app.get(
    '/v1/templates/:id/versions/:version',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['templates'],
        summary: 'One version with its source and schema',
        security: [{ bearerAuth: [] }],
        params: versionParams,
        response: {
          200: versionSummary.extend({ source: z.string(), schema: z.record(z.string(), z.unknown()) }),
          404: z.unknown(),
        },
      },
    },
    async (request) => {
      const template = repository.findTemplate(request.params.id, accountOf(request).id);
      const version = template ? repository.findVersion(template.id, request.params.version) : null;
      if (!version) throw notFound('template version');
      return { ...summary(version), source: version.source, schema: version.schema };
    },
  );

  app.post(
    '/v1/templates/:id/versions/:version/publish',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['templates'],
        summary: 'Publish a version: documents without "version" use the latest published one',
        security: [{ bearerAuth: [] }],
        params: versionParams,
        response: { 200: versionSummary, 404: z.unknown() },
      },
    },
    async (request) => {
      const template = repository.findTemplate(request.params.id, accountOf(request).id);
      if (!template) throw notFound('template');
      const published = repository.publish(template.id, request.params.version, deps.now().toISOString());
      if (!published) throw notFound('template version');
      return summary(published);
    },
  );

  app.delete(
    '/v1/templates/:id',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['templates'],
        summary: 'Delete a template and all its versions (stored documents stay)',
        security: [{ bearerAuth: [] }],
        params: idParams,
        response: { 204: z.null(), 404: z.unknown() },
      },
    },
    async (request, reply) => {
      if (!repository.removeTemplate(request.params.id, accountOf(request).id)) throw notFound('template');
      return reply.code(204).send(null);
    },
  );
}
