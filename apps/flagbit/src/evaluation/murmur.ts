/**
 * MurmurHash3 x86 32-bit over a string, exactly as the Unleash Node SDK computes it (`murmurhash3js`'s
 * `x86.hash32`): each UTF-16 code unit contributes its low byte. For ASCII this is the reference algorithm on
 * the UTF-8 bytes (what `murmurhash3js-revisited` computes on a byte array); for other characters it is what
 * the Node SDK does, and FlagBit follows the Node SDK so a flag evaluates the same on both sides.
 *
 * Written over the string rather than calling a library so evaluation allocates no byte array per call:
 * the whole budget for one flag is a few hundred nanoseconds. A test pins it to both libraries.
 */
export function murmurHash32(key: string, seed: number): number {
  const length = key.length;
  const remainder = length & 3;
  const blocks = length - remainder;
  let h1 = seed | 0;
  let k1 = 0;
  let i = 0;
  for (; i < blocks; i += 4) {
    k1 =
      (key.charCodeAt(i) & 0xff) |
      ((key.charCodeAt(i + 1) & 0xff) << 8) |
      ((key.charCodeAt(i + 2) & 0xff) << 16) |
      ((key.charCodeAt(i + 3) & 0xff) << 24);
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  k1 = 0;
  // The tail bytes, in the reference's fall-through order (3, then 2, then 1).
  if (remainder >= 3) k1 ^= (key.charCodeAt(i + 2) & 0xff) << 16;
  if (remainder >= 2) k1 ^= (key.charCodeAt(i + 1) & 0xff) << 8;
  if (remainder >= 1) {
    k1 ^= key.charCodeAt(i) & 0xff;
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
  }
  h1 ^= length;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

const STRATEGY_SEED = 0;
/** The seed Unleash hashes variant assignments with, so variants do not correlate with rollout buckets. */
export const VARIANT_SEED = 86028157;

/** `groupId:id` hashed into 1..100, the bucket a percentage rollout compares against. */
export function normalizedStrategyValue(id: string, groupId: string): number {
  return (murmurHash32(`${groupId}:${id}`, STRATEGY_SEED) % 100) + 1;
}

/** `groupId:id` hashed with the variant seed into 1..totalWeight. */
export function normalizedVariantValue(id: string, groupId: string, totalWeight: number): number {
  return (murmurHash32(`${groupId}:${id}`, VARIANT_SEED) % totalWeight) + 1;
}
