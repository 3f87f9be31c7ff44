import rateLimit from '@fastify/rate-limit';
import { AppError, type ServiceInstance } from '@studio/service-kit';
import type { StudioDatabase } from '@studio/shared-db';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { PlanCatalog } from './plans';
import { rateLimitedError, rateLimitedResponse } from './rate-limit';
import { type Account, type BillingRepository, createBillingRepository, currentPeriod } from './repository';
import { registerAccountRoutes } from './routes/account';
import { registerInternalRoutes } from './routes/internal';

export interface BillingPluginOptions {
  database: StudioDatabase;
  catalog: PlanCatalog;
  /** Prefix of this product's API keys, e.g. `cp` → `cp_…`. */
  keyPrefix: string;
  internalToken: string;
  /** Signups allowed per client address per hour. */
  signupsPerHour?: number;
  /** Requests per minute from one address without a key (signups, bad keys). */
  anonymousRequestsPerMinute?: number;
  /** Product-specific fields added to `GET /v1/account`. */
  accountExtras?: (account: Account) => Record<string, unknown>;
  /** The clock of usage periods and key use; injected by tests. */
  now?: () => Date;
  /** How often counted usage is written to the database. */
  usageFlushIntervalMs?: number;
}

export interface Principal {
  account: Account;
  keyId: string;
  readOnly: boolean;
}

export interface AuthenticateOptions {
  /** Reads the presented key from the request; the default is `Authorization: Bearer <key>`. */
  extractKey?: (request: FastifyRequest) => string | undefined;
  /** Let read-only keys through on writes (for routes that enforce it themselves). */
  allowReadOnlyWrites?: boolean;
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

const readMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface Billing {
  repository: BillingRepository;
  catalog: PlanCatalog;
  limitsFor(account: Account): Record<string, number>;
  /** A preHandler-ready hook that resolves `request.principal` or answers 401/403. */
  authenticate(
    options?: AuthenticateOptions,
  ): (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Throws 402 when creating one more of `limit` would pass the plan's limit. */
  assertBelowLimit(account: Account, limit: string, currentCount: number): void;
  /** Counts `amount` against a monthly limit, or throws 402 when the month's allowance is spent. */
  consumeMonthly(account: Account, metric: string, amount?: number): void;
  /** Counts usage without a limit. Buffered in memory and written in batches. */
  countUsage(accountId: string, metric: string, amount?: number): void;
  usageOf(accountId: string): Record<string, number>;
  flushUsage(): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    billing: Billing;
    /** The default account hook: `Authorization: Bearer <key>`. */
    requireAccount: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** The account that made this request; only valid behind `requireAccount`/`billing.authenticate`. */
export function accountOf(request: FastifyRequest): Account {
  if (!request.principal) throw new AppError('unauthorized', 'Missing or invalid API key');
  return request.principal.account;
}

function planLimitError(account: Account, limit: string, allowed: number, detail: string): AppError {
  return new AppError(
    'plan_limit_reached',
    `The ${account.plan} plan allows ${allowed} ${limit}; ${detail}. Upgrade the plan to go further.`,
  );
}

async function billingPlugin(app: FastifyInstance, options: BillingPluginOptions) {
  const repository = createBillingRepository(options.database, options.keyPrefix);
  const { catalog } = options;
  const now = options.now ?? (() => new Date());
  const pendingUsage = new Map<string, number>();
  const touchedKeys = new Map<string, string>();

  const usageKey = (accountId: string, metric: string, period: string) =>
    `${accountId}\u0000${metric}\u0000${period}`;
  const flushUsage = () => {
    if (pendingUsage.size === 0 && touchedKeys.size === 0) return;
    const usage = [...pendingUsage].map(([key, count]) => {
      const [accountId, metric, period] = key.split('\u0000') as [string, string, string];
      return [accountId, metric, period, count] as [string, string, string, number];
    });
    const touched = [...touchedKeys];
    // Cleared only once the transaction committed: a failed write (a busy database) keeps the counts for the
    // next flush instead of dropping them. Nothing runs between the snapshot and the clear (all synchronous).
    repository.flushUsage(usage, touched);
    pendingUsage.clear();
    touchedKeys.clear();
  };
  // A fractional or negative amount would lower the month's usage, and a fraction would fail the STRICT
  // INTEGER column at every flush from then on; both are a caller's bug, so they fail the request loudly.
  const assertUsageAmount = (metric: string, amount: number) => {
    if (!Number.isSafeInteger(amount) || amount < 0) {
      throw new Error(`usage of ${metric} must be counted in whole non-negative amounts, got ${amount}`);
    }
  };
  // The month's totals per account (flushed counts + counts since), loaded once per account and period, so
  // consumeMonthly on a hot path (SDK evaluations, captures) costs a map lookup instead of a query.
  const monthTotals = new Map<string, { period: string; usage: Record<string, number> }>();
  const totalsOf = (accountId: string): Record<string, number> => {
    const period = currentPeriod(now());
    const cached = monthTotals.get(accountId);
    if (cached && cached.period === period) return cached.usage;
    const usage = repository.usage(accountId, period);
    for (const [key, count] of pendingUsage) {
      const [id, metric, keyPeriod] = key.split('\u0000');
      if (id === accountId && keyPeriod === period && metric) usage[metric] = (usage[metric] ?? 0) + count;
    }
    monthTotals.set(accountId, { period, usage });
    return usage;
  };
  const countUsage = (accountId: string, metric: string, amount = 1) => {
    assertUsageAmount(metric, amount);
    const period = currentPeriod(now());
    const key = usageKey(accountId, metric, period);
    pendingUsage.set(key, (pendingUsage.get(key) ?? 0) + amount);
    const cached = monthTotals.get(accountId);
    if (cached && cached.period === period) cached.usage[metric] = (cached.usage[metric] ?? 0) + amount;
  };
  const usageOf = (accountId: string) => ({ ...totalsOf(accountId) });
  const limitsFor = (account: Account): Record<string, number> => ({ ...catalog.plans[account.plan].limits });

  const anonymousPerMinute = options.anonymousRequestsPerMinute ?? 120;
  // Set once @fastify/rate-limit is registered below; requests only arrive after that.
  let failedKeyLimiter: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  const rejectKey = async (request: FastifyRequest): Promise<never> => {
    // Keys are checked in onRequest, before the global limiter (a preHandler) ever sees the request, so
    // failed checks spend the address's anonymous allowance here: guessing keys is not free.
    const limit = await failedKeyLimiter?.(request);
    if (limit && !limit.isAllowed && limit.isExceeded) {
      throw rateLimitedError(limit.max, 'minute', limit.ttl);
    }
    // One answer for a missing, malformed, unknown or revoked key: no hint which.
    throw new AppError('unauthorized', 'Missing or invalid API key');
  };

  const authenticate = (hookOptions: AuthenticateOptions = {}) => {
    const extract = hookOptions.extractKey ?? bearerToken;
    return async (request: FastifyRequest) => {
      const presented = extract(request);
      const resolved = presented ? repository.resolveKey(presented) : null;
      if (!resolved) return rejectKey(request);
      if (resolved.account.status === 'suspended') {
        throw new AppError('account_suspended', 'This account is suspended; contact support to resume it');
      }
      if (resolved.readOnly && !hookOptions.allowReadOnlyWrites && !readMethods.has(request.method)) {
        throw new AppError('read_only_key', 'This API key is read-only; use a read-write key for changes');
      }
      request.principal = { account: resolved.account, keyId: resolved.keyId, readOnly: resolved.readOnly };
      touchedKeys.set(resolved.keyId, now().toISOString());
    };
  };

  const billing: Billing = {
    repository,
    catalog,
    limitsFor,
    authenticate,
    assertBelowLimit(account, limit, currentCount) {
      const allowed = limitsFor(account)[limit];
      if (allowed === undefined)
        throw new Error(`plan catalog of ${catalog.product} has no limit named ${limit}`);
      if (currentCount >= allowed)
        throw planLimitError(account, limit, allowed, `this account has ${currentCount}`);
    },
    consumeMonthly(account, metric, amount = 1) {
      assertUsageAmount(metric, amount);
      const allowed = limitsFor(account)[metric];
      if (allowed === undefined)
        throw new Error(`plan catalog of ${catalog.product} has no limit named ${metric}`);
      const used = totalsOf(account.id)[metric] ?? 0;
      if (used + amount > allowed) {
        const today = now();
        const resets = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() + 1, 1))
          .toISOString()
          .slice(0, 10);
        throw planLimitError(account, metric, allowed, `${used} used this month (resets ${resets})`);
      }
      countUsage(account.id, metric, amount);
    },
    countUsage,
    usageOf,
    flushUsage,
  };

  app.decorate('billing', billing);
  app.decorate('requireAccount', authenticate());
  app.decorateRequest('principal', null);

  // Keys resolve in onRequest hooks (route level), so by preHandler the limiter knows the account and its plan.
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    timeWindow: '1 minute',
    keyGenerator: (request) =>
      request.principal ? `account:${request.principal.account.id}` : `ip:${request.ip}`,
    max: (request) =>
      request.principal ? limitsFor(request.principal.account).requestsPerMinute! : anonymousPerMinute,
    errorResponseBuilder: rateLimitedResponse('minute'),
  });
  failedKeyLimiter = app.createRateLimit({
    max: anonymousPerMinute,
    timeWindow: '1 minute',
    keyGenerator: (request) => `ip:${request.ip}`,
  });

  app.addHook('onResponse', async (request) => {
    if (request.principal) countUsage(request.principal.account.id, 'requests');
  });

  const flushTimer = setInterval(() => {
    try {
      flushUsage();
    } catch (error) {
      app.log.error({ err: error }, 'failed to write usage counters');
    }
  }, options.usageFlushIntervalMs ?? 5000);
  flushTimer.unref();
  app.addHook('onClose', async () => {
    clearInterval(flushTimer);
    if (options.database.open) flushUsage();
  });

  const typed = app as unknown as ServiceInstance;
  registerAccountRoutes(typed, options);
  registerInternalRoutes(typed, options);
}

export default fp(billingPlugin, {
  name: '@studio/shared-billing',
  dependencies: ['@studio/error-envelope'],
});
export { billingPlugin };
