/** Conformance cases: get, set, delete, and values of many kinds. */
import assert from 'node:assert/strict';
import type { CacheBackend } from '../cache/backends/backend.js';
import type { Suite } from './suite.js';

export function registerBasicCases<B extends CacheBackend>(suite: Suite<B>): void {
  const { run, after, options } = suite;
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
}
