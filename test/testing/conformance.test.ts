/**
 * The conformance suite itself: it passes a correct backend and fails broken
 * ones, in the cases that concern what they break. Registrations are collected
 * with a fake `test` function and run here.
 */
import { describe, expect, it } from 'vitest';
import type { CacheBackend } from '../../src/cache/backends/backend.js';
import { MemoryBackend } from '../../src/cache/backends/memory.js';
import { type BackendConformanceOptions, runBackendConformance } from '../../src/testing/index.js';

type Outcome = { name: string; error?: unknown };

/** Registers the suite with a collecting `test`, runs every case in order, returns the failures by case name. */
async function runSuite(
  create: () => CacheBackend | Promise<CacheBackend>,
  extra: Partial<BackendConformanceOptions> = {},
): Promise<{ names: string[]; failed: Map<string, unknown>; closes: number }> {
  const cases: Array<{ name: string; fn: () => Promise<void> }> = [];
  let closes = 0;
  const returned = runBackendConformance({
    name: 'x',
    test: (name, fn) => {
      cases.push({ name, fn });
    },
    create: async () => {
      const b = await create();
      const close = b.close?.bind(b);
      b.close = () => {
        closes++;
        return close?.();
      };
      return b;
    },
    ...extra,
  });
  expect(returned).toEqual(cases.map((c) => c.name));
  // Every case has its own backend: run them side by side (the TTL cases wait).
  const outcomes: Outcome[] = await Promise.all(
    cases.map((c) =>
      c.fn().then(
        () => ({ name: c.name }),
        (error: unknown) => ({ name: c.name, error }),
      ),
    ),
  );
  const failed = new Map(outcomes.filter((o) => 'error' in o).map((o) => [o.name.slice(3), o.error]));
  return { names: cases.map((c) => c.name.slice(3)), failed, closes };
}

/** A MemoryBackend with some methods replaced. */
function broken(patch: (inner: MemoryBackend) => Partial<CacheBackend>): () => CacheBackend {
  return () => {
    const inner = new MemoryBackend();
    const b: CacheBackend = {
      get: (k) => inner.get(k),
      set: (k, v, t) => inner.set(k, v, t),
      delete: (k) => inner.delete(k),
      clear: (p) => inner.clear(p),
      keys: (p) => inner.keys(p),
      close: () => inner.close(),
      ...patch(inner),
    };
    return b;
  };
}

const failing = (failed: Map<string, unknown>, part: string) =>
  [...failed.keys()].filter((n) => n.includes(part));

describe('runBackendConformance', () => {
  it('registers at least a dozen cases, each prefixed with the name, and passes MemoryBackend', async () => {
    const { names, failed, closes } = await runSuite(() => new MemoryBackend());
    expect(names.length).toBeGreaterThanOrEqual(12);
    expect(new Set(names).size).toBe(names.length);
    expect([...failed.entries()]).toEqual([]);
    expect(closes).toBe(names.length);
  });

  it('fails a backend that ignores the TTL', async () => {
    const { failed } = await runSuite(broken((inner) => ({ set: (k, v) => inner.set(k, v, 0) })));
    expect(failing(failed, 'TTL').length).toBeGreaterThanOrEqual(3);
    expect(failing(failed, 'TTL')).toEqual(
      expect.arrayContaining([expect.stringContaining('s TTL: present')]),
    );
    expect(String(failed.get(failing(failed, 's TTL: present')[0]!))).toMatch(/still there/);
    expect(failed.size).toBe(failing(failed, 'TTL').length);
  });

  it('fails a backend whose clear ignores the prefix', async () => {
    const { failed } = await runSuite(broken((inner) => ({ clear: () => inner.clear() })));
    expect(failed.has('clear(prefix) leaves other prefixes alone')).toBe(true);
    expect(failed.has('clear(prefix) takes glob characters in the prefix literally')).toBe(true);
  });

  it('fails a backend whose clear ignores glob characters (a naive pattern match)', async () => {
    const { failed } = await runSuite(
      broken((inner) => ({
        clear: (p) => {
          if (!p) return inner.clear();
          const re = new RegExp(`^${p.replace(/\*/g, '.*').replace(/\?/g, '.')}`);
          let n = 0;
          for (const k of [...inner.keys()]) if (re.test(k) && inner.delete(k)) n++;
          return n;
        },
      })),
    );
    expect([...failed.keys()]).toEqual(['clear(prefix) takes glob characters in the prefix literally']);
  });

  it('fails a backend whose delete always returns true', async () => {
    const { failed } = await runSuite(
      broken((inner) => ({
        delete: (k) => {
          inner.delete(k);
          return true;
        },
      })),
    );
    expect(failed.has('delete: true when present, false when never set, false the second time')).toBe(true);
    expect(
      String(failed.get('delete: true when present, false when never set, false the second time')),
    ).toMatch(/never set/);
  });

  it('passes a simple Map store that sweeps expired entries lazily; a declared strict count after expiry fails it', async () => {
    // What a user writes first: entries with an expiry time, checked on read, swept never.
    const simpleStore = (): CacheBackend => {
      const map = new Map<string, { value: unknown; until: number }>();
      const live = (k: string) => {
        const e = map.get(k);
        return e !== undefined && (e.until === 0 || e.until > Date.now()) ? e : undefined;
      };
      return {
        get: (k) => live(k)?.value,
        set: (k, value, ttl) => {
          map.set(k, { value, until: ttl === 0 ? 0 : Date.now() + ttl * 1000 });
        },
        delete: (k) => map.delete(k),
        clear: (prefix = '') => {
          let n = 0;
          for (const k of [...map.keys()]) if (k.startsWith(prefix) && map.delete(k)) n++;
          return n;
        },
      };
    };
    const relaxed = await runSuite(simpleStore);
    expect([...relaxed.failed.keys()]).toEqual([]);
    const strict = await runSuite(simpleStore, { capabilities: { expiredNotCounted: true } });
    expect([...strict.failed.keys()]).toEqual([
      expect.stringMatching(/TTL: present before it runs out, a miss after/),
    ]);
  });

  it('fails a backend whose clear miscounts, unless counts are not exact', async () => {
    const miscount = broken((inner) => ({ clear: (p) => (inner.clear(p) as number) + 1 }));
    const exact = await runSuite(miscount);
    expect(failing(exact.failed, 'clear').length).toBeGreaterThanOrEqual(3);
    const loose = await runSuite(miscount, { capabilities: { exactCounts: false } });
    expect([...loose.failed.keys()]).toEqual([]);
  });

  it('accepts a clear that returns nothing (counts are then not checked)', async () => {
    const { failed } = await runSuite(
      broken((inner) => ({
        clear: (p) => {
          inner.clear(p);
        },
      })),
    );
    expect([...failed.keys()]).toEqual([]);
  });

  it('fails a backend that answers null for a miss, or loses falsy values', async () => {
    const nulls = await runSuite(broken((inner) => ({ get: (k) => inner.get(k) ?? null })));
    expect(nulls.failed.has('get of a key never set is undefined (not null)')).toBe(true);
    const falsy = await runSuite(broken((inner) => ({ get: (k) => inner.get(k) || undefined })));
    expect(falsy.failed.has('set then get returns the value; falsy values are hits')).toBe(true);
  });

  it('fails a backend whose keys() lists other prefixes or expired keys', async () => {
    const { failed } = await runSuite(broken((inner) => ({ keys: () => inner.keys() })));
    expect(
      failed.has('keys(prefix) lists exactly the live keys under the prefix (when the backend lists keys)'),
    ).toBe(true);
  });

  it('fails a backend that loses values in transit (a lossy codec)', async () => {
    const { failed } = await runSuite(
      broken((inner) => ({
        set: (k, v, t) => inner.set(k, typeof v === 'string' ? v.slice(0, 50_000) : v, t),
      })),
    );
    expect([...failed.keys()]).toEqual(['a large value (~100 KB string, ~1,000-element array) round-trips']);
  });

  it('fails a backend that drops concurrent writes', async () => {
    const { failed } = await runSuite(
      broken((inner) => {
        let inFlight = 0;
        return {
          set: async (k, v, t) => {
            inFlight++;
            await new Promise((r) => setTimeout(r, 1));
            if (inFlight === 1) inner.set(k, v, t); // only a write with no other in flight lands
            inFlight--;
          },
        };
      }),
    );
    expect(failing(failed, 'parallel').length).toBeGreaterThanOrEqual(1);
  });

  it('closes the backend of a failing case, and honours capabilities', async () => {
    const { names, failed, closes } = await runSuite(
      broken((inner) => ({ set: (k, v) => inner.set(k, v, 0) })),
      {
        capabilities: { clearAll: false, keys: false },
        values: [['a Date', new Date(0)]],
      },
    );
    expect(failed.size).toBeGreaterThan(0);
    expect(closes).toBe(names.length);
    expect(names.some((n) => n.startsWith('clear() with no prefix'))).toBe(false);
    expect(names).toContain('extra values round-trip (a Date)');
  });

  it('fails when capabilities.keys is true but the backend has no keys()', async () => {
    const { failed } = await runSuite(
      broken(() => ({ keys: undefined })),
      { capabilities: { keys: true } },
    );
    expect(failed.size).toBeGreaterThan(0);
    expect(String([...failed.values()][0])).toMatch(/no keys\(\)/);
  });

  it('a close() that throws fails the cases, without hiding why a case failed', async () => {
    const { names, failed } = await runSuite(
      broken((inner) => ({
        delete: (k) => {
          inner.delete(k);
          return true;
        },
        close: () => {
          throw new Error('close failed');
        },
      })),
    );
    expect(failed.size).toBe(names.length);
    const del = 'delete: true when present, false when never set, false the second time';
    expect(String(failed.get(del))).toMatch(/never set/);
    expect(String(failed.get('get of a key never set is undefined (not null)'))).toMatch(/close failed/);
  });
});
