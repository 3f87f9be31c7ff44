import { AppError, notFound, type ServiceInstance } from '@studio/service-kit';
import { checkOutboundUrl, OutboundBlockedError, parseOutboundAllowlist } from '@studio/service-kit/outbound';
import { accountOf } from '@studio/shared-billing';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { DocumentService } from '../documents-service';
import { firstPageAsPng } from '../rendering/preview';
import type { DocumentRecord, DocumintRepository } from '../repository';
import { DEFAULT_EXPIRES_IN, type UrlSigner } from '../signed-urls';
import type { DocumentStorage } from '../storage';
import { documentRequestSchema, documentSchema, expiresInSchema, idParams } from './schemas';

export interface DocumentRouteDeps {
  service: DocumentService;
  repository: DocumintRepository;
  storage: DocumentStorage;
  signer: UrlSigner;
  now: () => Date;
  publicUrl: string | undefined;
  outboundAllowlist: string | undefined;
  renderTimeoutMs: number;
}

const errorResponses = {
  401: z.unknown(),
  402: z.unknown(),
  404: z.unknown(),
  422: z.unknown(),
  503: z.unknown(),
};

export function registerDocumentRoutes(app: ServiceInstance, deps: DocumentRouteDeps) {
  const { service, signer } = deps;
  const { repository } = deps;
  const allowlist = parseOutboundAllowlist(deps.outboundAllowlist);
  const baseUrl = (request: FastifyRequest) => deps.publicUrl ?? `${request.protocol}://${request.host}`;

  const present = (request: FastifyRequest, document: DocumentRecord, expiresIn = DEFAULT_EXPIRES_IN) => {
    const expires = Math.floor(deps.now().getTime() / 1000) + expiresIn;
    const ready = document.status === 'succeeded';
    return {
      id: document.id,
      status: document.status,
      template: document.template,
      version: document.templateVersion,
      engine: document.engine,
      format: document.format,
      pages: document.pages,
      bytes: document.bytes,
      sha256: document.sha256,
      error: document.error,
      callbackUrl: document.callbackUrl,
      createdAt: document.createdAt,
      completedAt: document.completedAt,
      url: ready ? `${baseUrl(request)}${signer.path(document.id, expires)}` : null,
      expiresAt: ready ? new Date(expires * 1000).toISOString() : null,
    };
  };

  const wantsJson = (request: FastifyRequest) => {
    const accept = request.headers.accept ?? '';
    return /\bapplication\/json\b/i.test(accept) && !/^\s*application\/pdf\b/i.test(accept);
  };

  app.post(
    '/v1/documents',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['documents'],
        summary:
          'Render a document: the PDF (default), JSON with a signed link (Accept: application/json), or 202 when async',
        security: [{ bearerAuth: [] }],
        body: documentRequestSchema,
        response: { 200: documentSchema, 202: documentSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const account = accountOf(request);
      const body = request.body;
      if (body.callbackUrl && !body.async) {
        throw new AppError('unprocessable', 'callbackUrl is only used with "async": true', [
          { path: '/callbackUrl', message: 'set "async": true to receive a callback' },
        ]);
      }
      if (body.callbackUrl) {
        try {
          await checkOutboundUrl(body.callbackUrl, allowlist);
        } catch (error) {
          const reason =
            error instanceof OutboundBlockedError
              ? error.message
              : `cannot be resolved (${(error as Error).message})`;
          throw new AppError('unprocessable', `callbackUrl is not reachable: ${reason}`, [
            { path: '/callbackUrl', message: 'must be a public http(s) address' },
          ]);
        }
      }
      const documentRequest = {
        template: body.template,
        data: body.data,
        ...(body.version !== undefined ? { version: body.version } : {}),
        ...(body.format ? { format: body.format } : {}),
        ...(body.engine ? { engine: body.engine } : {}),
        ...(body.callbackUrl ? { callbackUrl: body.callbackUrl } : {}),
      };
      if (body.async) {
        const document = await service.enqueue(account, documentRequest, baseUrl(request));
        return reply
          .code(202)
          .header('location', `/v1/documents/${document.id}`)
          .send(present(request, document, body.expiresIn));
      }
      const { document, pdf } = await service.createNow(account, documentRequest);
      reply.header('x-document-id', document.id).header('location', `/v1/documents/${document.id}`);
      if (wantsJson(request)) return reply.code(200).send(present(request, document, body.expiresIn));
      return reply
        .code(200)
        .type('application/pdf')
        .header('content-disposition', `inline; filename="${document.id}.pdf"`)
        .send(pdf);
    },
  );

  app.post(
    '/v1/documents/preview',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['documents'],
        summary: 'Render page 1 as a PNG image (nothing is stored)',
        security: [{ bearerAuth: [] }],
        body: documentRequestSchema,
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const account = accountOf(request);
      const body = request.body;
      const pdf = await service.renderForPreview(account, {
        template: body.template,
        data: body.data,
        ...(body.version !== undefined ? { version: body.version } : {}),
        ...(body.engine ? { engine: body.engine } : {}),
      });
      const png = await firstPageAsPng(pdf, { timeoutMs: deps.renderTimeoutMs });
      return reply.type('image/png').send(png);
    },
  );

  app.get(
    '/v1/documents',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['documents'],
        summary: "The account's documents, newest first",
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(200).optional(),
        }),
        response: {
          200: z.object({ documents: z.array(documentSchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    async (request) => {
      const account = accountOf(request);
      let before: { createdAt: string; id: string } | undefined;
      if (request.query.cursor) {
        try {
          const [createdAt, id] = JSON.parse(
            Buffer.from(request.query.cursor, 'base64url').toString('utf8'),
          ) as [string, string];
          before = { createdAt: String(createdAt), id: String(id) };
        } catch {
          throw new AppError('bad_request', 'cursor is not one this API returned');
        }
      }
      const documents = repository.listDocuments(account.id, request.query.limit, before);
      const last = documents.at(-1);
      return {
        documents: documents.map((document) => present(request, document)),
        nextCursor:
          documents.length === request.query.limit && last
            ? Buffer.from(JSON.stringify([last.createdAt, last.id])).toString('base64url')
            : null,
      };
    },
  );

  app.get(
    '/v1/documents/:id',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['documents'],
        summary: "A document's metadata and a fresh signed download link",
        security: [{ bearerAuth: [] }],
        params: idParams,
        querystring: z.object({ expiresIn: expiresInSchema.optional() }),
        response: { 200: documentSchema, 404: z.unknown() },
      },
    },
    async (request) => {
      const document = repository.findDocument(request.params.id, accountOf(request).id);
      if (!document) throw notFound('document');
      return {
        ...present(request, document, request.query.expiresIn),
        callbacks: repository.callbackAttempts(document.id),
        callbackDelivery: repository.callbackDelivery(document.id),
      };
    },
  );

  app.get(
    '/v1/documents/:id/pdf',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['documents'],
        summary: 'The PDF of a document',
        security: [{ bearerAuth: [] }],
        params: idParams,
        response: { 404: z.unknown(), 409: z.unknown() },
      },
    },
    async (request, reply) => {
      const accountId = accountOf(request).id;
      const document = repository.findDocument(request.params.id, accountId);
      if (!document) throw notFound('document');
      if (document.status !== 'succeeded') {
        throw new AppError(
          'conflict',
          document.status === 'queued'
            ? 'the document is still rendering'
            : `the document failed: ${document.error ?? 'unknown error'}`,
        );
      }
      const pdf = await deps.storage.read(accountId, document.id);
      return reply
        .type('application/pdf')
        .header('content-disposition', `inline; filename="${document.id}.pdf"`)
        .send(pdf);
    },
  );

  app.delete(
    '/v1/documents/:id',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['documents'],
        summary: 'Delete a document and its PDF; its signed links stop working',
        security: [{ bearerAuth: [] }],
        params: idParams,
        response: { 204: z.null(), 404: z.unknown() },
      },
    },
    async (request, reply) => {
      const deleted = await service.delete(accountOf(request).id, request.params.id);
      if (!deleted) throw notFound('document');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/downloads/:id',
    {
      schema: {
        tags: ['documents'],
        summary: 'Download a PDF through a signed link (no API key)',
        params: idParams,
        querystring: z.object({
          expires: z.coerce.number().int().min(0),
          signature: z.string().min(1).max(100),
        }),
        response: { 403: z.unknown(), 404: z.unknown(), 410: z.unknown() },
      },
    },
    async (request, reply) => {
      const { expires, signature } = request.query;
      const verdict = signer.verify(
        request.params.id,
        expires,
        signature,
        Math.floor(deps.now().getTime() / 1000),
      );
      if (verdict === 'invalid') throw new AppError('forbidden', 'This download link is not valid');
      if (verdict === 'expired')
        throw new AppError('gone', 'This download link has expired; ask for a new one');
      const document = repository.findDocumentById(request.params.id);
      if (document?.status !== 'succeeded') throw notFound('document');
      const pdf = await deps.storage.read(document.accountId, document.id);
      return reply
        .type('application/pdf')
        .header('cache-control', 'private, no-store')
        .header('content-disposition', `inline; filename="${document.id}.pdf"`)
        .send(pdf);
    },
  );
}
