import { defineConfig } from 'vitest/config';

// The machine is shared with four other engineers' suites: generous timeouts keep a loaded moment from
// reading as a failure. No test waits for time (a manual clock drives every time-dependent decision).
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
