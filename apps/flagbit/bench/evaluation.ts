/**
 * In-process evaluation cost: one flag, and all 21 flags for one context, on the compiled engine.
 * Run: npx tsx bench/evaluation.ts
 */
import { compileFeatures } from '../src/evaluation/engine';
import type { Context } from '../src/evaluation/types';
import { twentyOneFlags } from './fixtures';

const engine = compileFeatures(twentyOneFlags(), { hostname: 'bench' });
const contexts: Context[] = Array.from({ length: 1024 }, (_, n) => ({
  userId: `user-${n}`,
  sessionId: `s-${n}`,
  properties: {
    country: n % 2 ? 'NO' : 'US',
    appVersion: n % 3 ? '1.4.0' : '1.0.0',
    plan: n % 4 ? 'beta' : 'free',
  },
}));

function measure(label: string, iterations: number, run: (context: Context) => unknown) {
  for (let n = 0; n < iterations / 10; n++) run(contexts[n & 1023] as Context); // warm-up
  const started = process.hrtime.bigint();
  let sink = 0;
  for (let n = 0; n < iterations; n++) if (run(contexts[n & 1023] as Context)) sink++;
  const ns = Number(process.hrtime.bigint() - started) / iterations;
  console.log(`${label.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns/op  (${sink} truthy)`);
  return ns;
}

const rollout = measure('isEnabled: flexibleRollout + IN constraint (flag-3)', 2_000_000, (c) =>
  engine.isEnabled('flag-3', c),
);
measure('isEnabled: default strategy (flag-0)', 2_000_000, (c) => engine.isEnabled('flag-0', c));
measure('isEnabled: SEMVER_GTE constraint (flag-4)', 2_000_000, (c) => engine.isEnabled('flag-4', c));
measure('isEnabled: segment (flag-5)', 2_000_000, (c) => engine.isEnabled('flag-5', c));
const variant = measure(
  'getVariant: rollout + 2 variants (flag-6)',
  2_000_000,
  (c) => engine.getVariant('flag-6', c).enabled,
);
const all = measure('evaluate all 21 flags (frontend API work per request)', 200_000, (c) => {
  let enabled = 0;
  for (const name of engine.names) if (engine.evaluate(name, c)?.enabled) enabled++;
  return enabled;
});
console.log(
  `\ntarget: one flag <= 400 ns. rollout ${rollout.toFixed(0)} ns, variant ${variant.toFixed(0)} ns, 21 flags ${all.toFixed(0)} ns`,
);
