/**
 * `meshcache/testing`: the conformance suite every cache backend passes.
 *
 * ```ts
 * import { test } from 'node:test';
 * import { runBackendConformance } from 'meshcache/testing';
 * runBackendConformance({ name: 'mystore', test, create: () => new MyStore() });
 * ```
 *
 * It registers one test per case with the caller's own `test` function, so it
 * works under node:test, vitest, mocha or anything with a `(name, fn)`
 * registration function. It depends on no test framework (assertions are
 * `node:assert/strict`) and imports nothing from meshcache at run time.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { CacheBackend } from '../cache/backends/backend.js';
import { registerBasicCases } from './cases-basic.js';
import { registerConcurrencyCases } from './cases-concurrency.js';
import { registerPrefixCases } from './cases-prefix.js';
import { registerTtlCases } from './cases-ttl.js';
import type { Suite } from './suite.js';

/** A test registration function: node:test's `test`, vitest's `it`, mocha's `it`. */
export type TestRegistrar = (name: string, fn: () => Promise<void>) => unknown;

/** What the backend under test supports, where the suite cannot tell by itself. */
export interface BackendCapabilities {
  /**
   * The backend lists keys (`keys(prefix)`); the listing cases run.
   * `false` skips them even if the method exists; `true` fails them if it does not.
   * @default detected in each case: `typeof backend.keys === 'function'`
   */
  readonly keys?: boolean;
  /**
   * The backend revokes by pattern itself (`revoke(prefix, pattern)`); the revoke case runs.
   * @default detected in each case: `typeof backend.revoke === 'function'`
   */
  readonly revoke?: boolean;
  /**
   * When `clear` or `revoke` return a number, it is the exact number of live
   * entries they removed. Set `false` for a distributed backend that can only
   * count what one node dropped (the DHT backend): counts are then only checked
   * to be non-negative integers.
   * @default true
   */
  readonly exactCounts?: boolean;
  /**
   * `delete` and `clear` never count an entry whose TTL ran out, even before the
   * backend swept it (`false` / 0 for it). Leave unset for a store that sweeps
   * lazily and may count such an entry: those two answers are then only checked
   * to be well-formed (a boolean, a non-negative integer).
   * @default false
   */
  readonly expiredNotCounted?: boolean;
  /**
   * The suite may call `clear()` with no prefix, which empties the whole store
   * the backend talks to. Set `false` when the store is shared with data that
   * must survive the run.
   * @default true
   */
  readonly clearAll?: boolean;
}

/** Options of {@link runBackendConformance}. */
export interface BackendConformanceOptions<B extends CacheBackend = CacheBackend> {
  /** Prefixes every test name: `${name}: <case>`. */
  readonly name: string;
  /** The caller's registration function (see {@link TestRegistrar}). */
  readonly test: TestRegistrar;
  /**
   * Returns a fresh, empty, ready backend (already opened if it needs it) for
   * each case. The suite calls its `close()` after the case, pass or fail.
   */
  readonly create: () => B | Promise<B>;
  /** What the backend supports (see {@link BackendCapabilities}). */
  readonly capabilities?: BackendCapabilities;
  /**
   * Multiplies every TTL and wait of the expiry cases (base: a 0.25 s TTL,
   * checked 0.6 s after the write). Raise it for a backend whose expiry has a
   * coarse resolution: 4 for a 1 s resolution.
   * @default 1
   */
  readonly timeScale?: number;
  /**
   * The start of every key the suite writes; each case adds a random part,
   * so that cases never see each other's keys, even on a shared store.
   * @default 'cache:'
   */
  readonly keyPrefix?: string;
  /**
   * More values to round-trip, as `[label, value]` pairs, compared with
   * `assert.deepStrictEqual`: for example Dates, Maps or BigInts when the
   * backend's codec keeps them. The required cases use JSON values only.
   * @default []
   */
  readonly values?: ReadonlyArray<readonly [label: string, value: unknown]>;
}

import { sleep } from './suite.js';

/** Registers the conformance cases with `options.test`; returns the full test names registered. */
export function runBackendConformance<B extends CacheBackend>(
  options: BackendConformanceOptions<B>,
): string[] {
  const { name, test, create } = options;
  if (typeof name !== 'string' || name === '') throw new TypeError('runBackendConformance: name is required');
  if (typeof test !== 'function') throw new TypeError('runBackendConformance: test must be a function');
  if (typeof create !== 'function') throw new TypeError('runBackendConformance: create must be a function');
  const caps = options.capabilities ?? {};
  const exactCounts = caps.exactCounts ?? true;
  const scale = options.timeScale ?? 1;
  if (!(scale > 0) || !Number.isFinite(scale))
    throw new RangeError('runBackendConformance: timeScale must be > 0');
  const base = options.keyPrefix ?? 'cache:';
  const registered: string[] = [];

  /** A scope of its own for one case: `<base>c<random>/`. */
  const scope = () => `${base}c${randomBytes(6).toString('hex')}/`;

  const run = (title: string, body: (b: B, root: string) => Promise<void>) => {
    const full = `${name}: ${title}`;
    registered.push(full);
    test(full, async () => {
      const root = scope();
      const backend = await create();
      let outcome: { error: unknown } | undefined;
      try {
        await body(backend, root);
      } catch (error) {
        outcome = { error };
      }
      // Leave a shared store clean; the case's verdict is already decided.
      try {
        await backend.clear(root);
      } catch {
        // ignore: the backend may be broken or closed by the case
      }
      try {
        await backend.close?.();
      } catch (error) {
        // A failing close fails a case that passed; it does not hide why a case failed.
        outcome ??= { error };
      }
      if (outcome !== undefined) throw outcome.error;
    });
  };

  /** Checks a count returned by clear/revoke: exact when the backend says so, skipped when it returns none. */
  const checkCount = (got: unknown, expected: number, what: string) => {
    if (got === undefined) return;
    assert.equal(typeof got, 'number', `${what} returned ${typeof got}, not a number or undefined`);
    const n = got as number;
    if (exactCounts) assert.equal(n, expected, `${what} returned ${n}, expected ${expected}`);
    else assert.ok(Number.isInteger(n) && n >= 0, `${what} returned ${n}, not a non-negative integer`);
  };

  const listKeys = async (b: B, prefix?: string): Promise<string[] | undefined> => {
    const supported = caps.keys ?? typeof b.keys === 'function';
    if (!supported) return undefined;
    assert.equal(typeof b.keys, 'function', 'capabilities.keys is true but the backend has no keys()');
    const listed = await b.keys!(prefix);
    const out: string[] = [];
    for await (const k of listed as Iterable<string> | AsyncIterable<string>) out.push(k);
    return out.sort();
  };

  const ttl = 0.25 * scale; // seconds
  const after = 600 * scale; // ms after the write at which the entry must be gone

  /**
   * Writes with `ttl` and checks the value is there while the TTL runs. When
   * set + get took longer than the TTL (a loaded machine), the check says
   * nothing: it writes again (which restarts the TTL), at most 3 times, then
   * fails asking for a larger `timeScale`. Returns when the last write started.
   */
  const setShort = async (b: B, key: string, value: unknown): Promise<number> => {
    let elapsed = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const start = performance.now();
      await b.set(key, value, ttl);
      const got = await b.get(key);
      elapsed = performance.now() - start;
      if (elapsed >= ttl * 1000) continue;
      assert.deepStrictEqual(got, value, `a ${ttl} s entry is missing right after set`);
      return start;
    }
    assert.fail(
      `set + get took ${Math.round(elapsed)} ms, more than the ${ttl} s TTL (3 tries): raise timeScale`,
    );
  };
  const untilGone = async (start: number) => {
    await sleep(Math.max(0, start + after - performance.now()));
  };

  const suite: Suite<B> = { run, checkCount, listKeys, setShort, untilGone, ttl, after, caps, options };
  registerBasicCases(suite);
  registerTtlCases(suite);
  registerPrefixCases(suite);
  registerConcurrencyCases(suite);
  return registered;
}
