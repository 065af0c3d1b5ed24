import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Network tests (Redis, libp2p) bind loopback ports; keep parallelism modest on 2 cores.
    maxWorkers: 2,
    setupFiles: ['test/setup.ts'],
  },
});
