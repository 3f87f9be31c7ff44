import { notFound, type ServiceInstance } from '@studio/service-kit';
import { accountOf } from '@studio/shared-billing';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import { curlCommand, harLog } from '../capture/export';
import { captureFilterShape, scanCaptures } from '../capture/filter';
import type { CapturedRequest } from '../capture/payload';
import type { CaptureRow } from '../repository';
import { captureBaseUrl } from './endpoints';
import { captureSchema, captureSummarySchema, errorResponses, idParams } from './schemas';

// Filters on path, headers and body need the plaintext, so they decrypt as they scan; one page scans at most
// this many captures and hands back a cursor to carry on from, instead of decrypting a whole history at once.
const MAX_SCANNED_PER_PAGE = 5000;

const encodeCursor = (seq: number) => Buffer.from(String(seq)).toString('base64url');
function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return Number.MAX_SAFE_INTEGER;
  const seq = Number(Buffer.from(cursor, 'base64url').toString());
  return Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
}

export async function captureRoutes(app: ServiceInstance) {
  const { repository, store, config } = app.webhookvault;
  const onRequest = app.requireAccount;
  const security = [{ bearerAuth: [] }];

  const captureUrl = (request: FastifyRequest, endpointToken: string, captured: CapturedRequest) =>
    `${captureBaseUrl(request, config)}/h/${endpointToken}${captured.path}${captured.query ? `?${captured.query}` : ''}`;

  const ownCapture = (request: FastifyRequest, id: string): CaptureRow => {
    const row = repository.findCapture(accountOf(request).id, id);
    if (row === null) throw notFound('Capture');
    return row;
  };

  app.get(
    '/v1/endpoints/:id/captures',
    {
      onRequest,
      schema: {
        security,
        tags: ['captures'],
        summary: 'List captures, newest first, with filters',
        description:
          'Filters: `method` (exact), `path` (substring of the sub-path), `header` (`name` or `name:value` substring), `q` (substring of the body as UTF-8), `since`/`until` (ISO times). Items carry no body; fetch one capture for it.',
        params: idParams,
        querystring: z.object({
          cursor: z.string().max(64).optional(),
          limit: z.coerce.number().int().min(1).max(100).default(50),
          ...captureFilterShape,
        }),
        response: {
          200: z.object({ items: z.array(captureSummarySchema), nextCursor: z.string().nullable() }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const account = accountOf(request);
      const endpoint = repository.findEndpoint(account.id, request.params.id);
      if (endpoint === null) throw notFound('Endpoint');
      const { limit, cursor, ...filter } = request.query;
      const page = scanCaptures(repository, (row) => store.open(row), {
        endpointId: endpoint.id,
        beforeSeq: decodeCursor(cursor),
        filter,
        limit,
        maxScanned: MAX_SCANNED_PER_PAGE,
      });
      const items = page.rows.map((row) => {
        const { bodyBase64: _body, bodyText: _text, ...summary } = store.view(row, { body: false });
        return summary;
      });
      return { items, nextCursor: page.exhausted ? null : encodeCursor(page.lastSeq) };
    },
  );

  app.get(
    '/v1/captures/:id',
    {
      onRequest,
      schema: {
        security,
        tags: ['captures'],
        summary: 'One capture: headers in received order, the body as base64 and as text when it is text',
        params: idParams,
        response: { 200: captureSchema, ...errorResponses },
      },
    },
    async (request) => store.view(ownCapture(request, request.params.id)),
  );

  app.delete(
    '/v1/captures/:id',
    {
      onRequest,
      schema: {
        security,
        tags: ['captures'],
        params: idParams,
        response: { 204: z.null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      if (!repository.deleteCapture(accountOf(request).id, request.params.id)) throw notFound('Capture');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/captures/:id/curl',
    {
      onRequest,
      schema: {
        security,
        tags: ['captures'],
        summary: 'The capture as a cURL command (text/plain)',
        params: idParams,
        response: { 200: z.string(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const row = ownCapture(request, request.params.id);
      const endpoint = repository.findEndpoint(row.accountId, row.endpointId)!;
      const captured = store.open(row);
      return reply
        .type('text/plain; charset=utf-8')
        .send(curlCommand(row.method, captureUrl(request, endpoint.token, captured), captured));
    },
  );

  app.get(
    '/v1/captures/:id/har',
    {
      onRequest,
      schema: {
        security,
        tags: ['captures'],
        summary: 'The capture as a HAR 1.2 log with one entry',
        params: idParams,
        response: { 200: z.looseObject({ log: z.looseObject({ version: z.string() }) }), ...errorResponses },
      },
    },
    async (request) => {
      const row = ownCapture(request, request.params.id);
      const endpoint = repository.findEndpoint(row.accountId, row.endpointId)!;
      const captured = store.open(row);
      return harLog({
        method: row.method,
        url: captureUrl(request, endpoint.token, captured),
        request: captured,
        receivedAt: new Date(row.receivedMs).toISOString(),
        creatorVersion: packageJson.version,
      });
    },
  );
}
