import { hostname } from 'node:os';
import { AppError } from '@studio/service-kit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createFlagRepository, type FlagRepository } from '../repository';
import { createTokenService, type SdkPrincipal, type TokenService, type TokenType } from '../sdk-tokens';
import { createSnapshotStore, type SnapshotStore } from '../snapshots';
import { createStore, type Store } from '../store';
import { rateLimitedError } from './rate-limit';

export interface FlagBit {
  repository: FlagRepository;
  snapshots: SnapshotStore;
  store: Store;
  tokens: TokenService;
  clock: () => Date;
  /** Resolves the request's SDK token (bare `Authorization`) or answers 401/403/429. */
  authenticateSdk(request: FastifyRequest, allowed: TokenType[]): Promise<SdkPrincipal>;
}

declare module 'fastify' {
  interface FastifyInstance {
    flagbit: FlagBit;
  }
}

export interface FlagBitPluginOptions {
  clock: () => Date;
  /** Failed SDK token checks allowed per client address per minute. */
  failedTokensPerMinute: number;
  /** Revisions of changes kept per environment for streaming resume (Last-Event-ID). */
  streamingHistoryRevisions: number;
}

async function flagbitPlugin(app: FastifyInstance, options: FlagBitPluginOptions) {
  const repository = createFlagRepository(app.database);
  const snapshots = createSnapshotStore(
    repository,
    { now: options.clock, hostname: hostname() },
    // Events are capped at 10 per kept revision: one large import cannot pin an unbounded history.
    { maxRevisions: options.streamingHistoryRevisions, maxEvents: options.streamingHistoryRevisions * 10 },
  );
  const store = createStore(repository, snapshots, options.clock);
  const tokens = createTokenService(repository, app.billing.repository, options.clock);
  // SDK routes are exempt from the per-account request limiter (an SDK fleet polling is not abuse), so
  // guessing tokens is limited here instead: every failed check spends the address's allowance.
  const failedTokenLimiter = app.createRateLimit({
    max: options.failedTokensPerMinute,
    timeWindow: '1 minute',
    keyGenerator: (request) => `sdk-token:${request.ip}`,
  });

  const flagbit: FlagBit = {
    repository,
    snapshots,
    store,
    tokens,
    clock: options.clock,
    async authenticateSdk(request, allowed) {
      const header = request.headers.authorization;
      const principal = tokens.resolve(typeof header === 'string' ? header : undefined);
      if (!principal) {
        const limit = await failedTokenLimiter(request);
        if (!limit.isAllowed && limit.isExceeded) throw rateLimitedError(limit.max, 'minute', limit.ttl);
        throw new AppError('unauthorized', 'Missing or invalid API token');
      }
      if (!allowed.includes(principal.type)) {
        throw new AppError(
          'forbidden',
          `A ${principal.type} token cannot be used here; use a ${allowed.join(' or ')} token`,
        );
      }
      return principal;
    },
  };
  app.decorate('flagbit', flagbit);
}

export default fp(flagbitPlugin, { name: 'flagbit', dependencies: ['@studio/shared-billing'] });
