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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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

  // --- get / set / delete -------------------------------------------------

  run('get of a key never set is undefined (not null)', async (b, root) => {
    const got = await b.get(`${root}user/get_user:404`);
    assert.strictEqual(got, undefined);
  });

  run('set then get returns the value; falsy values are hits', async (b, root) => {
    await b.set(`${root}user/get_user:123`, { id: 123, name: 'Ada' }, 60);
    assert.deepStrictEqual(await b.get(`${root}user/get_user:123`), { id: 123, name: 'Ada' });
    const falsy: Array<[string, unknown]> = [
      ['zero', 0],
      ['empty', ''],
      ['false', false],
      ['null', null],
    ];
    for (const [k, v] of falsy) await b.set(`${root}user/${k}`, v, 60);
    for (const [k, v] of falsy) assert.strictEqual(await b.get(`${root}user/${k}`), v, `value ${k}`);
  });

  run('overwrite: the last awaited set wins', async (b, root) => {
    const key = `${root}user/get_user:1`;
    await b.set(key, 'first', 60);
    await b.set(key, { second: true }, 60);
    assert.deepStrictEqual(await b.get(key), { second: true });
    for (let i = 0; i < 20; i++) await b.set(key, i, 60);
    assert.strictEqual(await b.get(key), 19);
  });

  run('delete: true when present, false when never set, false the second time', async (b, root) => {
    const key = `${root}user/get_user:7`;
    assert.strictEqual(await b.delete(`${root}user/never-set`), false, 'delete of a key never set');
    await b.set(key, 'x', 60);
    assert.strictEqual(await b.delete(key), true, 'delete of a present key');
    assert.strictEqual(await b.get(key), undefined, 'get after delete');
    assert.strictEqual(await b.delete(key), false, 'second delete');
    await b.set(key, 'back', 60);
    assert.strictEqual(await b.get(key), 'back', 'set after delete');
  });

  run('keys are exact: delete and get touch only that key', async (b, root) => {
    const keys = [
      `${root}user/get_user:1`,
      `${root}user/get_user:10`,
      `${root}user/get_user:1 `,
      `${root}user/get_user`,
      `${root}user/get_user:*`,
      `${root}user/get_user:[1]`,
      `${root}user/get_user:?`,
      `${root}user/get_user:{"id":1}`,
      `${root}user/get_user:héllo ✓ 日本`,
      `${root}user/get_user:${'k'.repeat(600)}`,
    ];
    for (const [i, k] of keys.entries()) await b.set(k, i, 60);
    for (const [i, k] of keys.entries()) assert.strictEqual(await b.get(k), i, `get ${JSON.stringify(k)}`);
    assert.strictEqual(await b.delete(keys[0]!), true);
    assert.strictEqual(await b.get(keys[0]!), undefined);
    for (const [i, k] of keys.entries())
      if (i > 0) assert.strictEqual(await b.get(k), i, `${JSON.stringify(k)} after deleting ${keys[0]}`);
  });

  // --- values ----------------------------------------------------------------

  const roundTrip = async (b: B, root: string, values: ReadonlyArray<readonly [string, unknown]>) => {
    for (const [i, [, v]] of values.entries()) await b.set(`${root}values/v:${i}`, v, 60);
    for (const [i, [label, v]] of values.entries())
      assert.deepStrictEqual(await b.get(`${root}values/v:${i}`), v, `value ${label}`);
  };

  run('JSON scalars round-trip (strings, unicode, numbers, booleans, null)', async (b, root) => {
    await roundTrip(b, root, [
      ['string', 'hello'],
      ['empty string', ''],
      ['unicode', 'héllo ✓ 日本語 🎉 \u0000 "quoted" \\ \n\t'],
      ['numeric string', '123'],
      ['zero', 0],
      ['minus one', -1],
      ['fraction', 1.5],
      ['large integer', Number.MAX_SAFE_INTEGER],
      ['small float', -1.25e-7],
      ['true', true],
      ['false', false],
      ['null', null],
    ]);
  });

  run('nested objects and arrays round-trip', async (b, root) => {
    await roundTrip(b, root, [
      ['empty object', {}],
      ['empty array', []],
      ['object', { id: 123, name: 'Ada', active: true, score: 9.5, tags: ['a', 'b'], none: null }],
      ['array', [1, 'two', null, false, { three: 3 }, [4, [5]]]],
      [
        'deep',
        { a: { b: { c: { d: { e: [{ f: 'deep' }] } } } }, list: Array.from({ length: 100 }, (_, i) => i) },
      ],
      ['keys needing quotes', { 'a b': 1, '': 2, é: 3, __proto__x: 4 }],
    ]);
  });

  run('a large value (~100 KB string, ~1,000-element array) round-trips', async (b, root) => {
    const chunk = 'abcdefghij0123456789ÀÉÎÕÜ';
    await roundTrip(b, root, [
      ['100 KB string', chunk.repeat(Math.ceil(100_000 / chunk.length))],
      ['array of 1,000 objects', Array.from({ length: 1000 }, (_, i) => ({ i, s: `item-${i}` }))],
    ]);
  });

  if (options.values !== undefined && options.values.length > 0) {
    const extra = options.values;
    run(`extra values round-trip (${extra.map(([l]) => l).join(', ')})`, async (b, root) => {
      await roundTrip(b, root, extra);
    });
  }

  // --- TTL ---------------------------------------------------------------------

  run(`a ${ttl} s TTL: present before it runs out, a miss after`, async (b, root) => {
    const key = `${root}user/get_user:short`;
    const start = await setShort(b, key, { soon: 'gone' });
    await untilGone(start);
    assert.strictEqual(await b.get(key), undefined, `still there ${after} ms after a ${ttl} s TTL`);
    const listed = await listKeys(b, root);
    if (listed !== undefined) assert.deepStrictEqual(listed, [], 'keys() lists an expired key');
    assert.strictEqual(await b.delete(key), false, 'delete of an expired key says it was there');
    await b.set(`${root}user/get_user:other`, 'short', ttl);
    await untilGone(performance.now());
    checkCount(await b.clear(root), 0, 'clear(prefix) of a prefix holding only expired entries');
  });

  run('ttl 0 never expires; a long TTL outlives a short one', async (b, root) => {
    const short = `${root}user/get_user:short`;
    await b.set(`${root}user/get_user:forever`, 'forever', 0);
    await b.set(`${root}user/get_user:hour`, 'hour', 3600);
    const start = await setShort(b, short, 'short');
    await untilGone(start);
    assert.strictEqual(await b.get(short), undefined, 'the short entry is still there');
    assert.strictEqual(await b.get(`${root}user/get_user:forever`), 'forever', 'ttl 0 expired');
    assert.strictEqual(await b.get(`${root}user/get_user:hour`), 'hour', 'a 3600 s TTL expired');
  });

  run('an overwrite replaces the TTL (short to none, none to short)', async (b, root) => {
    const extended = `${root}user/get_user:extended`;
    const shortened = `${root}user/get_user:shortened`;
    await b.set(extended, 'v1', ttl);
    await b.set(shortened, 'v1', 0);
    await b.set(extended, 'v2', 0);
    const start = await setShort(b, shortened, 'v2');
    await untilGone(start);
    assert.strictEqual(await b.get(extended), 'v2', 'an overwrite with ttl 0 kept the first TTL');
    assert.strictEqual(await b.get(shortened), undefined, 'an overwrite with a short TTL did not expire');
  });

  // --- clear -------------------------------------------------------------------

  run('clear(prefix) removes every key under it and returns how many', async (b, root) => {
    const prefix = `${root}user/`;
    for (let i = 0; i < 5; i++) await b.set(`${prefix}get_user:${i}`, i, 60);
    checkCount(await b.clear(prefix), 5, 'clear(prefix) of 5 keys');
    for (let i = 0; i < 5; i++) assert.strictEqual(await b.get(`${prefix}get_user:${i}`), undefined);
    checkCount(await b.clear(prefix), 0, 'clear(prefix) of an emptied prefix');
    checkCount(await b.clear(`${root}nothing-here/`), 0, 'clear(prefix) of a prefix never used');
    await b.set(`${prefix}get_user:0`, 'again', 60);
    assert.strictEqual(await b.get(`${prefix}get_user:0`), 'again', 'set after clear');
  });

  run('clear(prefix) leaves other prefixes alone', async (b, root) => {
    const keep = [
      `${root}post/get_post:1`,
      `${root}user2/get_user:1`,
      `${root}users/get_user:1`,
      `${root}use/get_user:1`,
      `${root.slice(0, -1)}x/user/get_user:1`,
    ];
    await b.set(`${root}user/get_user:1`, 'gone', 60);
    await b.set(`${root}user/get_user:2`, 'gone', 0);
    for (const k of keep) await b.set(k, 'kept', 60);
    try {
      checkCount(await b.clear(`${root}user/`), 2, 'clear(prefix)');
      assert.strictEqual(await b.get(`${root}user/get_user:1`), undefined);
      assert.strictEqual(await b.get(`${root}user/get_user:2`), undefined);
      for (const k of keep) assert.strictEqual(await b.get(k), 'kept', `${k} was cleared`);
    } finally {
      await b.clear(`${root.slice(0, -1)}x/`);
    }
  });

  run('clear(prefix) takes glob characters in the prefix literally', async (b, root) => {
    const keys = {
      star: `${root}a*/k`,
      plain: `${root}abc/k`,
      question: `${root}a?/k`,
      ax: `${root}ax/k`,
      bracket: `${root}[ab]/k`,
      a: `${root}a/k`,
    };
    for (const [label, k] of Object.entries(keys)) await b.set(k, label, 60);
    checkCount(await b.clear(`${root}a*`), 1, 'clear("a*")');
    checkCount(await b.clear(`${root}a?`), 1, 'clear("a?")');
    checkCount(await b.clear(`${root}[ab]`), 1, 'clear("[ab]")');
    assert.strictEqual(await b.get(keys.star), undefined);
    assert.strictEqual(await b.get(keys.question), undefined);
    assert.strictEqual(await b.get(keys.bracket), undefined);
    for (const label of ['plain', 'ax', 'a'] as const)
      assert.strictEqual(await b.get(keys[label]), label, `${keys[label]} was cleared`);
  });

  if (caps.clearAll ?? true) {
    run('clear() with no prefix removes every key', async (b, root) => {
      const keys = [`${root}user/get_user:1`, `${root}post/get_post:1`, `${root}x`];
      for (const k of keys) await b.set(k, 'v', 0);
      checkCount(await b.clear(), keys.length, 'clear() of a store holding 3 keys');
      for (const k of keys) assert.strictEqual(await b.get(k), undefined, `${k} survived clear()`);
      await b.set(keys[0]!, 'again', 60);
      assert.strictEqual(await b.get(keys[0]!), 'again', 'set after clear()');
    });
  }

  // --- keys / revoke ---------------------------------------------------------

  run(
    'keys(prefix) lists exactly the live keys under the prefix (when the backend lists keys)',
    async (b, root) => {
      if ((caps.keys ?? typeof b.keys === 'function') === false) return;
      const mine = [`${root}user/get_user:1`, `${root}user/get_user:2`, `${root}user/get_user:*`];
      for (const k of mine) await b.set(k, 1, 60);
      await b.set(`${root}user2/get_user:1`, 1, 60);
      await b.set(`${root}post/get_post:1`, 1, 60);
      await b.set(`${root}user/deleted`, 1, 60);
      await b.delete(`${root}user/deleted`);
      assert.deepStrictEqual(await listKeys(b, `${root}user/`), [...mine].sort());
      assert.deepStrictEqual(await listKeys(b, `${root}none/`), []);
      const all = (await listKeys(b)) ?? [];
      for (const k of [...mine, `${root}user2/get_user:1`, `${root}post/get_post:1`])
        assert.ok(all.includes(k), `keys() without a prefix does not list ${k}`);
      assert.ok(!all.includes(`${root}user/deleted`), 'keys() lists a deleted key');
    },
  );

  run(
    'revoke(prefix, pattern) removes the matching keys only (when the backend revokes)',
    async (b, root) => {
      const supported = caps.revoke ?? typeof b.revoke === 'function';
      if (!supported) return;
      assert.equal(
        typeof b.revoke,
        'function',
        'capabilities.revoke is true but the backend has no revoke()',
      );
      const prefix = `${root}user/`;
      const gone = [`${prefix}get_user:1`, `${prefix}get_user:22`, `${prefix}get_user:`];
      const kept = [
        `${prefix}get_user_profile:1`,
        `${prefix}xget_user:1`,
        `${root}post/get_user:1`,
        `${prefix}get_post:1`,
      ];
      for (const k of [...gone, ...kept]) await b.set(k, 'v', 60);
      checkCount(await b.revoke!(prefix, 'get_user:*'), gone.length, 'revoke("get_user:*")');
      for (const k of gone) assert.strictEqual(await b.get(k), undefined, `${k} survived the revoke`);
      for (const k of kept) assert.strictEqual(await b.get(k), 'v', `${k} was revoked`);
      checkCount(await b.revoke!(prefix, 'get_?ost:1'), 1, 'revoke("get_?ost:1")');
      assert.strictEqual(await b.get(`${prefix}get_post:1`), undefined);
    },
  );

  // --- concurrency -------------------------------------------------------------

  run('50 parallel sets on distinct keys, then 50 parallel gets: all present', async (b, root) => {
    const n = 50;
    const key = (i: number) => `${root}user/get_user:${i}`;
    await Promise.all(Array.from({ length: n }, (_, i) => b.set(key(i), { i }, 60)));
    const got = await Promise.all(Array.from({ length: n }, (_, i) => b.get(key(i))));
    for (let i = 0; i < n; i++) assert.deepStrictEqual(got[i], { i }, `key ${i}`);
  });

  run('parallel deletes and gets on distinct keys do not disturb each other', async (b, root) => {
    const n = 50;
    const key = (i: number) => `${root}user/get_user:${i}`;
    await Promise.all(Array.from({ length: n }, (_, i) => b.set(key(i), i, 60)));
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => (i % 2 === 0 ? b.delete(key(i)) : b.get(key(i)))),
    );
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) assert.strictEqual(results[i], true, `delete of key ${i}`);
      else assert.strictEqual(results[i], i, `get of key ${i} during the deletes`);
    }
    const after = await Promise.all(Array.from({ length: n }, (_, i) => b.get(key(i))));
    for (let i = 0; i < n; i++) assert.strictEqual(after[i], i % 2 === 0 ? undefined : i, `key ${i}`);
  });

  run('parallel set/get/delete on one key settle to a written value or a miss', async (b, root) => {
    const key = `${root}user/get_user:hot`;
    const written = new Set<unknown>();
    const ops = Array.from({ length: 50 }, (_, i) => {
      if (i % 5 === 4) return b.delete(key);
      if (i % 5 === 3) return b.get(key);
      written.add(`v${i}`);
      return b.set(key, `v${i}`, 60);
    });
    const results = await Promise.all(ops);
    for (const [i, r] of results.entries()) {
      if (i % 5 === 3) assert.ok(r === undefined || written.has(r), `a get saw ${JSON.stringify(r)}`);
      if (i % 5 === 4) assert.equal(typeof r, 'boolean', 'delete returned a non-boolean');
    }
    const settled = await b.get(key);
    assert.ok(settled === undefined || written.has(settled), `settled on ${JSON.stringify(settled)}`);
    await b.set(key, 'final', 60);
    assert.strictEqual(await b.get(key), 'final', 'an awaited set after the storm');
    assert.strictEqual(await b.delete(key), true);
    assert.strictEqual(await b.get(key), undefined);
  });

  return registered;
}
