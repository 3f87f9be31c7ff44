import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for the capture hot path, drawn from a CSPRNG pool instead of one `randomBytes` call per need:
 * a capture needs a 13-character id and a 12-byte nonce, and two small `randomBytes` calls per capture were
 * ~9 % of the capture profile. Same generator (the OS CSPRNG via `randomFillSync`), filled 16 KiB at a time.
 * A refill allocates a new pool rather than overwriting the old one, so a handed-out slice (a nonce waiting in
 * the group-commit queue) never changes under its holder.
 */
const POOL_BYTES = 16 * 1024;
const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export class RandomPool {
  private pool = Buffer.alloc(0);
  private offset = 0;

  /** `length` fresh random bytes; a view into the pool, never reused for anything else. */
  take(length: number): Buffer {
    if (this.offset + length > this.pool.length) {
      this.pool = randomFillSync(Buffer.allocUnsafe(Math.max(POOL_BYTES, length)));
      this.offset = 0;
    }
    const bytes = this.pool.subarray(this.offset, this.offset + length);
    this.offset += length;
    return bytes;
  }

  /**
   * `<prefix>_` and 13 base62 characters: the shape of shared-billing's `randomId` (same byte-modulo mapping,
   * so the same slight bias and the same ~77 bits), without its two `randomBytes` calls.
   */
  id(prefix: string): string {
    const bytes = this.take(13);
    let out = `${prefix}_`;
    for (let index = 0; index < 13; index++) out += alphabet[bytes[index]! % 62];
    return out;
  }
}
