import { join } from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  diskUtilizationProbe,
  eventLoopDelayProbe,
  healthPlugin,
  processMemoryProbe,
  uptimeProbe,
} from '@studio/health';
import { databaseProbes, openDatabase, type StudioDatabase } from '@studio/shared-db';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { ServiceConfig } from './config';
import { errorEnvelopePlugin } from './errors';
import { requestIdFor } from './logger';
import type { DatabaseSpec } from './server';

export type ServiceInstance = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's SQLite handle: for its repository modules only. */
    database: StudioDatabase;
  }
}

export interface ServiceAppOptions {
  /** The variables every service shares (see `serviceConfigShape`). */
  config: Omit<ServiceConfig, 'PORT' | 'HOST' | 'LOG_LEVEL'> & { RELEASE_ID?: string };
  service: { id: string; title: string; description: string; version: string };
  database: DatabaseSpec;
  /** A pino logger built by the server entry, or false in tests. */
  logger?: FastifyBaseLogger | false;
  bodyLimit?: number;
  /** Extra OpenAPI security schemes (a bearer API key is always declared). */
  securitySchemes?: Record<string, { type: 'apiKey'; in: 'header'; name: string }>;
}

/**
 * A Fastify instance with what every studio service shares: its SQLite file opened and migrated, the health
 * contract with the standard probes, zod schemas on routes, the error envelope, request ids echoed in
 * `x-request-id`, and OpenAPI docs at /docs built from the route schemas.
 */
export async function createServiceApp(options: ServiceAppOptions): Promise<ServiceInstance> {
  const { config, service } = options;
  const app: ServiceInstance = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    genReqId: requestIdFor,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: config.TRUST_PROXY,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(errorEnvelopePlugin);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // While draining, every answer says Connection: close, so a keep-alive client does not send its next request
  // down a socket that is about to close (it would get a reset instead of a retry elsewhere).
  app.addHook('onSend', async (_request, reply) => {
    if (app.health?.state === 'draining') reply.header('connection', 'close');
  });

  const database = openDatabase({
    file: join(config.DATA_DIR, options.database.fileName),
    migrations: options.database.migrations,
    synchronous: options.database.synchronous,
  });
  app.decorate('database', database);
  app.addHook('onClose', async () => database.close());

  await app.register(healthPlugin, {
    serviceId: service.id,
    description: service.description,
    version: service.version,
    ...(config.RELEASE_ID ? { releaseId: config.RELEASE_ID } : {}),
    probes: [
      ...databaseProbes(database, {
        writeRateWarn: config.SQLITE_WRITE_RATE_WARN,
        busyWarn: config.SQLITE_BUSY_WARN,
        walWarnBytes: config.SQLITE_WAL_WARN_BYTES,
      }),
      diskUtilizationProbe(config.DATA_DIR, {
        warnPercent: config.DISK_WARN_PERCENT,
        failPercent: config.DISK_FAIL_PERCENT,
      }),
      processMemoryProbe({ warnRssBytes: config.MEMORY_WARN_BYTES }),
      eventLoopDelayProbe({ warnMs: config.EVENTLOOP_WARN_MS }),
      uptimeProbe(),
    ],
  });

  await app.register(swagger, {
    openapi: {
      info: { title: service.title, description: service.description, version: service.version },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' }, ...options.securitySchemes },
      },
    },
    transform: jsonSchemaTransform,
    // Internal routes are for the studio's own tools, not for customers' docs.
    hiddenTag: 'internal',
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  return app;
}
