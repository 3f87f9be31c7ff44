import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { RandomPool } from './random-pool';

/**
 * Encryption at rest: AES-256-GCM, a fresh 96-bit nonce per record, and the id of the key on every record so
 * keys can be rotated (previous keys stay readable until `keys:rotate` has re-encrypted their records).
 * The record id is bound as associated data, so a ciphertext copied onto another row fails to decrypt.
 */

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  keyId: string;
  nonce: Buffer;
  /** Ciphertext followed by the 16-byte GCM tag. */
  ciphertext: Buffer;
}

/** A key's id: a hash of the key, so the same key always has the same id and the id reveals nothing. */
export function keyIdOf(key: Buffer): string {
  return `k${createHash('sha256').update('webhookvault key id\u0000').update(key).digest('hex').slice(0, 12)}`;
}

export class UnknownKeyError extends Error {
  constructor(keyId: string) {
    super(
      `a record is encrypted with key ${keyId}, which is neither WEBHOOKVAULT_ENCRYPTION_KEY nor in WEBHOOKVAULT_PREVIOUS_KEYS`,
    );
    this.name = 'UnknownKeyError';
  }
}

export class Vault {
  readonly currentKeyId: string;
  private readonly keys = new Map<string, Buffer>();
  private readonly random = new RandomPool();
  private readonly currentKey: Buffer;

  constructor(currentKey: Buffer, previousKeys: readonly Buffer[] = []) {
    this.currentKeyId = keyIdOf(currentKey);
    this.keys.set(this.currentKeyId, currentKey);
    this.currentKey = currentKey;
    for (const key of previousKeys) {
      const id = keyIdOf(key);
      if (!this.keys.has(id)) this.keys.set(id, key);
    }
  }

  seal(plaintext: Buffer, associatedData: string): Sealed {
    const nonce = this.random.take(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.currentKey, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return { keyId: this.currentKeyId, nonce, ciphertext };
  }

  open(sealed: Sealed, associatedData: string): Buffer {
    const key = this.keys.get(sealed.keyId);
    if (key === undefined) throw new UnknownKeyError(sealed.keyId);
    const body = sealed.ciphertext.subarray(0, sealed.ciphertext.length - TAG_BYTES);
    const tag = sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  }

  sealText(text: string, associatedData: string): Sealed {
    return this.seal(Buffer.from(text, 'utf8'), associatedData);
  }

  openText(sealed: Sealed, associatedData: string): string {
    return this.open(sealed, associatedData).toString('utf8');
  }
}
