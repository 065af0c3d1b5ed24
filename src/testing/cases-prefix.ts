/** Conformance cases: clear by prefix, key listing and revoke by pattern. */
import assert from 'node:assert/strict';
import type { CacheBackend } from '../cache/backends/backend.js';
import type { Suite } from './suite.js';

export function registerPrefixCases<B extends CacheBackend>(suite: Suite<B>): void {
  const { run, checkCount, listKeys, after, caps } = suite;
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
}
