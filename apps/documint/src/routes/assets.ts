import { createHash } from 'node:crypto';
import { AppError, notFound, type ServiceInstance } from '@studio/service-kit';
import { accountOf } from '@studio/shared-billing';
import { z } from 'zod';
import { type DocumintRepository, newId } from '../repository';
import type { AssetStorage } from '../storage';
import { idParams } from './schemas';

export const assetContentTypes = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/svg+xml',
  'image/webp',
] as const;

const assetSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  contentType: z.string(),
  bytes: z.number(),
  sha256: z.string(),
  createdAt: z.string(),
  reference: z.string().describe('put this string in template data where an image goes'),
});

export interface AssetRouteDeps {
  repository: DocumintRepository;
  storage: AssetStorage;
  now: () => Date;
  /** Most assets one account may store. */
  maxAssetsPerAccount: number;
}

/**
 * Images uploaded once (a logo, a signature) and referenced from data as `"asset:<id>"`, in any template
 * and either engine, instead of sending the same data URI with every document.
 */
export function registerAssetRoutes(app: ServiceInstance, deps: AssetRouteDeps) {
  const { repository, storage } = deps;
  const present = (asset: ReturnType<DocumintRepository['listAssets']>[number]) => ({
    id: asset.id,
    name: asset.name,
    contentType: asset.contentType,
    bytes: asset.bytes,
    sha256: asset.sha256,
    createdAt: asset.createdAt,
    reference: `asset:${asset.id}`,
  });

  // Raw image bodies, for this route's content types only.
  app.addContentTypeParser([...assetContentTypes], { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );

  app.post(
    '/v1/assets',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['assets'],
        summary: 'Upload an image (the raw bytes, Content-Type image/png, jpeg, gif, svg+xml or webp)',
        security: [{ bearerAuth: [] }],
        querystring: z.object({ name: z.string().min(1).max(200).optional() }),
        response: { 201: assetSchema, 402: z.unknown(), 415: z.unknown() },
      },
    },
    async (request, reply) => {
      const account = accountOf(request);
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const body = request.body;
      if (!Buffer.isBuffer(body) || !(assetContentTypes as readonly string[]).includes(contentType)) {
        throw new AppError(
          'unsupported_media_type',
          `send the image bytes with Content-Type ${assetContentTypes.join(', ')}`,
        );
      }
      if (body.length === 0) throw new AppError('unprocessable', 'the image is empty');
      if (repository.countAssets(account.id) >= deps.maxAssetsPerAccount) {
        throw new AppError(
          'plan_limit_reached',
          `an account may store ${deps.maxAssetsPerAccount} assets; delete some first`,
        );
      }
      const asset = {
        id: newId('ast'),
        accountId: account.id,
        name: request.query.name ?? null,
        contentType,
        bytes: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
        createdAt: deps.now().toISOString(),
      };
      await storage.write(account.id, asset.id, body);
      try {
        repository.saveAsset(asset);
      } catch (error) {
        await storage.remove(account.id, asset.id);
        throw error;
      }
      return reply.code(201).send(present(asset));
    },
  );

  app.get(
    '/v1/assets',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['assets'],
        summary: "The account's uploaded images",
        security: [{ bearerAuth: [] }],
        response: { 200: z.object({ assets: z.array(assetSchema) }) },
      },
    },
    async (request) => ({ assets: repository.listAssets(accountOf(request).id).map(present) }),
  );

  app.delete(
    '/v1/assets/:id',
    {
      onRequest: app.requireAccount,
      schema: {
        tags: ['assets'],
        summary: 'Delete an uploaded image (documents already rendered keep it)',
        security: [{ bearerAuth: [] }],
        params: idParams,
        response: { 204: z.null(), 404: z.unknown() },
      },
    },
    async (request, reply) => {
      const accountId = accountOf(request).id;
      if (!repository.removeAsset(request.params.id, accountId)) throw notFound('asset');
      await storage.remove(accountId, request.params.id);
      return reply.code(204).send(null);
    },
  );
}
