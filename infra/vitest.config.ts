import { defineConfig } from 'vitest/config';

// End-to-end tests start real processes (servers, CLIs, Caddy); on a busy 2-core machine one start can take
// a few seconds, so the per-test budget is generous. It bounds hangs; it is not a performance assertion.
export default defineConfig({
  test: { testTimeout: 60_000, hookTimeout: 60_000 },
});
