/** Conformance cases: interleaved operations. */
import assert from 'node:assert/strict';
import type { CacheBackend } from '../cache/backends/backend.js';
import type { Suite } from './suite.js';

export function registerConcurrencyCases<B extends CacheBackend>(suite: Suite<B>): void {
  const { run, after } = suite;
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
}
