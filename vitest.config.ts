import { transform } from 'esbuild';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Vite 8 transforms TypeScript with oxc, which does not lower TC39 standard
  // decorators yet; esbuild does (as tsx does for `npm run demo`/`bench`).
  oxc: false,
  plugins: [
    {
      name: 'esbuild-ts-standard-decorators',
      enforce: 'pre',
      async transform(code, id) {
        if (!/\.ts$/.test(id) || id.includes('/node_modules/')) return null;
        const out = await transform(code, {
          loader: 'ts',
          format: 'esm',
          target: 'es2022',
          sourcemap: true,
          sourcefile: id,
          tsconfigRaw: { compilerOptions: { experimentalDecorators: false, useDefineForClassFields: true } },
        });
        return { code: out.code, map: out.map };
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Network tests (Redis, libp2p) bind loopback ports; keep parallelism modest on 2 cores.
    maxWorkers: 2,
    setupFiles: ['test/setup.ts'],
  },
});
