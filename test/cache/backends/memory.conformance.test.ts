/** The public conformance suite (meshcache/testing) against the memory backend. */
import { afterAll, describe, it } from 'vitest';
import { MemoryBackend } from '../../../src/cache/backends/memory.js';
import { runBackendConformance } from '../../../src/testing/index.js';

describe('MemoryBackend conformance', () => {
  const created: MemoryBackend[] = [];
  afterAll(() => {
    for (const b of created) b.close();
  });

  runBackendConformance({
    name: 'memory',
    test: it,
    // Expired entries are never counted, swept or not.
    capabilities: { expiredNotCounted: true },
    create: () => {
      const b = new MemoryBackend();
      created.push(b);
      return b;
    },
  });

  runBackendConformance({
    name: 'memory (tight bounds, sweeping)',
    test: it,
    capabilities: { expiredNotCounted: true },
    create: () => {
      const b = new MemoryBackend({ maxEntries: 5_000, maxBytes: 8 << 20, sweepIntervalMs: 50 });
      created.push(b);
      return b;
    },
  });
});
