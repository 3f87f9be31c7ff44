import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Secrets at rest (the owner's TOTP secret) are sealed with AES-256-GCM under OPS_VAULT_KEY, whose length
 * the config has already checked, so a wrong key is a start-up error naming OPS_VAULT_KEY and never a
 * cipher error from some unrelated subsystem later. Format: `v1.<iv>.<tag>.<ciphertext>`, base64url parts.
 */
export function createVault(key: Buffer) {
  if (key.length !== 32) throw new Error(`OPS_VAULT_KEY is ${key.length} bytes; it must be exactly 32 bytes`);
  return {
    seal(plaintext: string, context: string): string {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      // The context (what the secret is for) is authenticated, so a sealed value cannot be moved elsewhere.
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv, cipher.getAuthTag(), ciphertext]
        .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
        .join('.');
    },
    open(sealed: string, context: string): string {
      const [version, iv, tag, ciphertext] = sealed.split('.');
      if (version !== 'v1' || !iv || !tag || ciphertext === undefined)
        throw new Error('sealed value has an unknown format');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      try {
        return Buffer.concat([
          decipher.update(Buffer.from(ciphertext, 'base64url')),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new Error('cannot open the sealed value: OPS_VAULT_KEY is not the key it was sealed with');
      }
    },
  };
}

export type Vault = ReturnType<typeof createVault>;
