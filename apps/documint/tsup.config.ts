import { defineConfig } from 'tsup';
import { appBundle } from '../../tsup.app';

// The Typst worker is a second entry: the pool forks dist/typst-worker.js beside dist/server.js.
export default defineConfig({
  ...(appBundle as object),
  entry: { server: 'src/server.ts', 'typst-worker': 'src/engines/typst-worker.mjs' },
});
