import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyDelta, type DeltaEvent } from '../src/evaluation/delta';
import { compileFeatures } from '../src/evaluation/engine';
import { murmurHash32, normalizedStrategyValue, normalizedVariantValue } from '../src/evaluation/murmur';
import type { ClientFeatures, Context, FeatureDefinition, Segment } from '../src/evaluation/types';

const require = createRequire(import.meta.url);
const revisited = require('murmurhash3js-revisited') as {
  x86: { hash32(bytes: Uint8Array, seed: number): number };
};
// The SDK's own modules, loaded from the installed package: the oracle FlagBit must agree with.
const sdkUtil = require('unleash-client/lib/strategy/util') as {
  normalizedStrategyValue(id: string, groupId: string): number;
  normalizedVariantValue(id: string, groupId: string, normalizer: number): number;
};
const SdkClient = (
  require('unleash-client/lib/client') as { default: new (...args: unknown[]) => SdkClientLike }
).default;
const { defaultStrategies } = require('unleash-client/lib/strategy') as { defaultStrategies: unknown[] };
interface SdkClientLike {
  isEnabled(name: string, context: Context, fallback: () => boolean): boolean;
  getVariant(name: string, context: Context): Record<string, unknown>;
  on(event: string, listener: () => void): void;
}

/** A deterministic pseudo-random source, so a generated case is the same on every run. */
function seeded(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('MurmurHash3 bucketing', () => {
  it('equals murmurhash3js-revisited on the low bytes of every character', () => {
    const next = seeded(7);
    for (let n = 0; n < 2000; n++) {
      const length = Math.floor(next() * 40);
      let text = '';
      for (let i = 0; i < length; i++) text += String.fromCharCode(32 + Math.floor(next() * 95));
      const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
      for (const seed of [0, 86028157])
        expect(murmurHash32(text, seed), text).toBe(revisited.x86.hash32(bytes, seed));
    }
  });

  it("buckets exactly as the Node SDK's own util, non-ASCII ids included", () => {
    const ids = ['123', 'user-1', 'Hellø Wørld', '😊_φriend_你好', '', 'a'.repeat(101)];
    for (const id of ids) {
      for (const groupId of ['', 'Feature.A', 'grøup']) {
        expect(normalizedStrategyValue(id, groupId)).toBe(sdkUtil.normalizedStrategyValue(id, groupId));
        for (const total of [1, 3, 100, 1000]) {
          expect(normalizedVariantValue(id, groupId, total)).toBe(
            sdkUtil.normalizedVariantValue(id, groupId, total),
          );
        }
      }
    }
  });
});

describe('evaluation agrees with the unmodified unleash-client on generated contexts', () => {
  const require2 = createRequire(import.meta.url);
  const specDirectory = join(
    dirname(require2.resolve('@unleash/client-specification/package.json')),
    'specifications',
  );
  const files = JSON.parse(readFileSync(join(specDirectory, 'index.json'), 'utf8')) as string[];
  afterEach(() => vi.restoreAllMocks());

  // Every flag of every specification file, against contexts the specification never tried.
  for (const file of files) {
    it(`agrees on every flag of ${file}`, () => {
      const spec = JSON.parse(readFileSync(join(specDirectory, file), 'utf8')) as {
        state: ClientFeatures | { events: DeltaEvent[] };
      };
      const document =
        'events' in spec.state
          ? applyDelta({ version: 2, features: [], segments: [] }, spec.state.events)
          : spec.state;
      const features = new Map<string, FeatureDefinition>(document.features.map((f) => [f.name, f]));
      const segments = new Map<number, Segment>((document.segments ?? []).map((s) => [s.id, s]));
      const sdk = new SdkClient(
        { getToggle: (name: string) => features.get(name), getSegment: (id: number) => segments.get(id) },
        defaultStrategies,
      );
      sdk.on('warn', () => {});
      sdk.on('error', () => {});
      let draw = 0;
      const random = vi.spyOn(Math, 'random');
      const engine = compileFeatures(document, { random: () => draw });
      const next = seeded(file.length * 31 + 5);
      const pick = <T>(values: T[]) => values[Math.floor(next() * values.length)] as T;
      for (let n = 0; n < 150; n++) {
        const context: Context = {
          userId: pick([undefined, String(Math.floor(next() * 1000)), 'user@example.com', '']),
          sessionId: pick([undefined, String(Math.floor(next() * 1000))]),
          remoteAddress: pick([undefined, '127.0.0.1', '192.168.0.3', '2001:db8::1', '10.0.0.1']),
          environment: pick([undefined, 'production', 'dev']),
          appName: pick([undefined, 'abc', 'web']),
          currentTime: pick([undefined, '2022-01-29T13:00:00.000Z', '2030-01-01T00:00:00.000Z']),
          properties: {
            customField: pick([undefined, String(Math.floor(next() * 1000))]),
            version: pick([undefined, '1.2.3', '2.0.0-beta.1', 'v1.0.0']),
            country: pick([undefined, 'norway', 'NORWAY', 'sweden']),
          },
        };
        // Random rollouts and random stickiness draw from Math.random in the SDK: both sides get the same
        // draw for the whole evaluation, so even those compare exactly.
        draw = next();
        random.mockReturnValue(draw);
        for (const name of features.keys()) {
          const label = `${name} ${JSON.stringify(context)} draw=${draw}`;
          const sdkEnabled = sdk.isEnabled(name, { ...context }, () => false);
          expect(engine.isEnabled(name, context), label).toBe(sdkEnabled);
          const { featureEnabled: _ignored, ...sdkVariant } = sdk.getVariant(name, { ...context });
          expect(engine.getVariant(name, context), label).toEqual(sdkVariant);
        }
      }
    });
  }
});
