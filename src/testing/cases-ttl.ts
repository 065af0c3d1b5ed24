/** Conformance cases: expiry: fractional TTLs, ttl 0, overwrites. */
import assert from 'node:assert/strict';
import type { CacheBackend } from '../cache/backends/backend.js';
import type { Suite } from './suite.js';

export function registerTtlCases<B extends CacheBackend>(suite: Suite<B>): void {
  const { run, checkCount, listKeys, setShort, untilGone, ttl, after, caps } = suite;
  // A store that sweeps expired entries lazily may still count one it has not swept yet.
  const strictAfterExpiry = caps.expiredNotCounted ?? false;
  // --- TTL ---------------------------------------------------------------------

  run(`a ${ttl} s TTL: present before it runs out, a miss after`, async (b, root) => {
    const key = `${root}user/get_user:short`;
    const start = await setShort(b, key, { soon: 'gone' });
    await untilGone(start);
    assert.strictEqual(await b.get(key), undefined, `still there ${after} ms after a ${ttl} s TTL`);
    const listed = await listKeys(b, root);
    if (listed !== undefined) assert.deepStrictEqual(listed, [], 'keys() lists an expired key');
    const deleted = await b.delete(key);
    if (strictAfterExpiry) assert.strictEqual(deleted, false, 'delete of an expired key says it was there');
    else assert.strictEqual(typeof deleted, 'boolean', 'delete of an expired key returned no boolean');
    await b.set(`${root}user/get_user:other`, 'short', ttl);
    await untilGone(performance.now());
    const cleared = await b.clear(root);
    if (strictAfterExpiry) checkCount(cleared, 0, 'clear(prefix) of a prefix holding only expired entries');
    else if (cleared !== undefined)
      assert.ok(Number.isInteger(cleared) && (cleared as number) >= 0, `clear(prefix) returned ${cleared}`);
    assert.strictEqual(
      await b.get(`${root}user/get_user:other`),
      undefined,
      'an expired entry came back after clear',
    );
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
}
