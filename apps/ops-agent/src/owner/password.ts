import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * OWNER_PASSWORD_HASH: `scrypt$N$r$p$<salt base64>$<64-byte key base64>`, Node's `crypto.scrypt` over the
 * decoded salt bytes. Parsed and checked at start so a mangled hash stops the agent with a message naming
 * the field, instead of every login failing for a reason nobody can see.
 */
export interface PasswordHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

const KEY_BYTES = 64;
const DEFAULT_PARAMS = { N: 16384, r: 8, p: 1 };

function decodeBase64(text: string, field: string): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new Error(`has a ${field} that is not base64`);
  return Buffer.from(text, 'base64');
}

function positiveInt(text: string, field: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1)
    throw new Error(`has ${field}=${text}; it must be a positive integer`);
  return Number(text);
}

export function parsePasswordHash(value: string): PasswordHash {
  const parts = value.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    throw new Error(
      `must have 6 fields scrypt$N$r$p$<salt base64>$<key base64>, found ${parts.length} field(s)${parts[0] === 'scrypt' ? '' : ' not starting with "scrypt"'} (print one with: ops-agent hash-password)`,
    );
  }
  const [, nText = '', rText = '', pText = '', saltText = '', keyText = ''] = parts;
  const N = positiveInt(nText, 'N');
  if (N < 2 || (N & (N - 1)) !== 0) throw new Error(`has N=${N}; N must be a power of 2 greater than 1`);
  const r = positiveInt(rText, 'r');
  const p = positiveInt(pText, 'p');
  const salt = decodeBase64(saltText, 'salt');
  if (salt.length < 16) throw new Error(`has a salt of ${salt.length} bytes; it needs at least 16 bytes`);
  const key = decodeBase64(keyText, 'key');
  if (key.length !== KEY_BYTES) {
    throw new Error(
      `has a key of ${key.length} bytes; the key must be ${KEY_BYTES} bytes (base64 of 64 bytes)`,
    );
  }
  if (128 * N * r > 1024 * 1024 * 1024)
    throw new Error(`has N=${N}, r=${r}: more than 1 GiB of memory per check`);
  return { N, r, p, salt, key };
}

function derive(
  password: string,
  salt: Buffer,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      KEY_BYTES,
      { ...params, maxmem: 128 * params.N * params.r * 2 + 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

export async function hashPassword(password: string, params = DEFAULT_PARAMS): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, hash: PasswordHash): Promise<boolean> {
  const key = await derive(password, hash.salt, hash);
  return timingSafeEqual(key, hash.key);
}
