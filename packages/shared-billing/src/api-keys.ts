import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 of random bytes: URL- and header-safe, double-click selectable. */
export function randomToken(bytes = 24): string {
  const raw = randomBytes(bytes);
  let out = '';
  for (const byte of raw) out += alphabet[byte % 62];
  // 256 % 62 leaves a slight bias; a second byte per character would remove it, but 24 bytes of
  // mostly-uniform base62 still carry well over 128 bits.
  return out + alphabet[randomBytes(1)[0]! % 62];
}

export function randomId(prefix: string): string {
  return `${prefix}_${randomToken(12)}`;
}

/** `<product>_<ro_>?<base62>`: the prefix tells a leaked key's product (and scanners) at a glance. */
export function generateApiKey(productPrefix: string, readOnly: boolean): string {
  return `${productPrefix}_${readOnly ? 'ro_' : ''}${randomToken(32)}`;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Compares two secrets in constant time whatever their lengths (hashing first equalises them). */
export function secretsEqual(given: string, expected: string): boolean {
  return sameHash(hashApiKey(given), hashApiKey(expected));
}
