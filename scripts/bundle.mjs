/**
 * Bundles the package's entry points (the library, `meshcache/testing` and the
 * `meshcache` command) from tsc's output into dist/bundle/. Node's ESM loader
 * pays per module: a memory-only node loads ~80 files of dist/ and spends half
 * its import-to-first-hit resolving and linking them (bench/startup.ts).
 * One build with shared chunks keeps one copy of every class across the
 * entries (a MeshError from `meshcache/testing` is a MeshError of
 * `meshcache`); what the code loads lazily (Redis, the network, tracing)
 * stays in chunks of its own. Dependencies stay external.
 */
import { build } from 'esbuild';

await build({
  entryPoints: {
    meshcache: 'dist/index.js',
    testing: 'dist/testing/index.js',
    cli: 'dist/cli/meshcache/main.js',
  },
  outdir: 'dist/bundle',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
