import { defineConfig } from 'vitest/config';

// Real renders (Typst workers, Chromium) on a shared 2-core machine: generous per-test budgets so a busy
// neighbour slows the suite down instead of failing it. No test asserts on elapsed time.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
