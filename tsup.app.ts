import { defineConfig } from 'tsup';

/**
 * One bundle per app: the internal @studio/* packages are inlined (they export TypeScript source), while
 * native and file-reading packages stay external and resolve from the app's own node_modules.
 */
export const appBundle = defineConfig({
  entry: ['src/server.ts'],
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  splitting: false,
  noExternal: [/^@studio\//],
  // better-sqlite3 is native; swagger-ui serves files from its package folder; pino spawns worker files.
  external: ['better-sqlite3', '@fastify/swagger-ui', 'pino'],
  // Bundled CommonJS dependencies call require(); ESM output needs one.
  banner: {
    js: "import { createRequire as __studioCreateRequire } from 'node:module';\nconst require = __studioCreateRequire(import.meta.url);",
  },
});
