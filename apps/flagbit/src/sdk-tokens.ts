import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '@studio/service-kit';
import type { Account, BillingRepository } from '@studio/shared-billing';
import type { FlagRepository } from './repository';

export type TokenType = 'backend' | 'frontend';

export interface SdkPrincipal {
  tokenId: string;
  accountId: string;
  environment: string;
  type: TokenType;
  /** The token's account as of the lookup (its plan sets the monthly evaluation allowance). */
  account: Account;
}

const hashToken = (secret: string) => createHash('sha256').update(secret).digest();

/**
 * SDK tokens in Unleash's shape, `<project>:<environment>.<secret>` (FlagBit's are `*:` — every project),
 * shown once and stored as SHA-256. SDKs send them as the bare `Authorization` header; `Bearer <token>` is
 * accepted too, for OpenFeature providers configured with a bearer header.
 *
 * Resolved tokens are cached for `cacheMs` so an SDK request costs a hash and a map lookup, not a query: a
 * revocation through the API clears its entry at once; an account suspended (or a plan changed) elsewhere
 * is noticed within `cacheMs`.
 */
export function createTokenService(
  repository: FlagRepository,
  billing: BillingRepository,
  clock: () => Date,
  cacheMs = 30_000,
) {
  const cache = new Map<string, { principal: SdkPrincipal; expires: number }>();

  return {
    issue(accountId: string, type: TokenType, environment: string) {
      const secret = `*:${environment}.${randomBytes(28).toString('hex')}`;
      const id = `tok_${randomBytes(12).toString('hex')}`;
      const createdAt = clock().toISOString();
      const token = {
        id,
        accountId,
        type,
        environment,
        displayPrefix: secret.slice(0, secret.indexOf('.') + 5),
        createdAt,
      };
      repository.insertToken(token, hashToken(secret));
      return { ...token, secret };
    },
    forget(tokenId: string) {
      for (const [key, entry] of cache) if (entry.principal.tokenId === tokenId) cache.delete(key);
    },
    forgetAccount(accountId: string) {
      for (const [key, entry] of cache) if (entry.principal.accountId === accountId) cache.delete(key);
    },
    /** The token behind an Authorization header, or null. Throws 403 for a suspended account. */
    resolve(header: string | undefined): SdkPrincipal | null {
      if (!header) return null;
      const secret = header.startsWith('Bearer ') ? header.slice(7).trim() : header.trim();
      if (!secret || secret.length > 200) return null;
      const key = hashToken(secret).toString('hex');
      const now = clock().getTime();
      const cached = cache.get(key);
      if (cached && cached.expires > now) return cached.principal;
      cache.delete(key);
      const row = repository.findTokenByHash(Buffer.from(key, 'hex'));
      if (!row) return null;
      const account = billing.findAccount(row.accountId);
      if (!account) return null;
      if (account.status === 'suspended') {
        throw new AppError('account_suspended', 'This account is suspended; contact support to resume it');
      }
      const principal = {
        tokenId: row.id,
        accountId: row.accountId,
        environment: row.environment,
        type: row.type,
        account,
      };
      if (cache.size > 100_000) cache.clear();
      cache.set(key, { principal, expires: now + cacheMs });
      return principal;
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
