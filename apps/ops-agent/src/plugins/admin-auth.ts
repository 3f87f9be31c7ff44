import { AppError } from '@studio/service-kit';
import { bearerToken, secretsEqual } from '@studio/shared-billing';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    /** The automation API's guard: `Authorization: Bearer <OPS_ADMIN_TOKEN>`, compared in constant time. */
    requireAdmin: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
}

/** Decorates the root instance (called directly, not registered, so every route scope sees it). */
export function addAdminAuth(app: FastifyInstance, adminToken: string) {
  app.decorate('requireAdmin', async (request: FastifyRequest) => {
    const presented = bearerToken(request);
    if (!presented || !secretsEqual(presented, adminToken)) {
      throw new AppError(
        'unauthorized',
        'Missing or invalid admin token (Authorization: Bearer <OPS_ADMIN_TOKEN>)',
      );
    }
  });
}
