import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyDelta, type DeltaEvent } from '../src/evaluation/delta';
import { compileFeatures } from '../src/evaluation/engine';
import type { ClientFeatures, Context } from '../src/evaluation/types';

// The public Unleash client specification, read from the installed npm package: every file, every case.
const require = createRequire(import.meta.url);
const specDirectory = join(
  dirname(require.resolve('@unleash/client-specification/package.json')),
  'specifications',
);
const index = JSON.parse(readFileSync(join(specDirectory, 'index.json'), 'utf8')) as string[];

interface SpecFile {
  name: string;
  state: ClientFeatures | { events: DeltaEvent[] };
  tests?: { description: string; context: Context; toggleName: string; expectedResult: boolean }[];
  variantTests?: { description: string; context: Context; toggleName: string; expectedResult: unknown }[];
}

function documentOf(state: SpecFile['state']): ClientFeatures {
  if ('events' in state) return applyDelta({ version: 2, features: [], segments: [] }, state.events);
  return state;
}

describe('the Unleash client specification', () => {
  it('has every specification file listed in its index', () => {
    expect(index.length).toBeGreaterThanOrEqual(22);
  });

  for (const file of index) {
    const spec = JSON.parse(readFileSync(join(specDirectory, file), 'utf8')) as SpecFile;
    describe(spec.name, () => {
      const engine = compileFeatures(documentOf(spec.state), { hostname: 'localhost' });
      for (const test of spec.tests ?? []) {
        it(`isEnabled: ${test.description}`, () => {
          expect(engine.isEnabled(test.toggleName, test.context), JSON.stringify(test.context)).toBe(
            test.expectedResult,
          );
        });
      }
      for (const test of spec.variantTests ?? []) {
        it(`getVariant: ${test.description}`, () => {
          expect(engine.getVariant(test.toggleName, test.context), JSON.stringify(test.context)).toEqual(
            test.expectedResult,
          );
        });
      }
    });
  }
});
