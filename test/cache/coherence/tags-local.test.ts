/** The process-local tag records of synchronous backends (src/cache/coherence/tag-records.ts). */
import { describe, expect, it } from 'vitest';
import { LocalTagStore } from '../../../src/cache/coherence/tag-records.js';

describe('LocalTagStore', () => {
  it('orders invalidations with a counter and drops records past the retention', () => {
    const store = new LocalTagStore(1000);
    const before = store.now();
    store.invalidate(['t:a'], 10_000);
    expect(store.latest(['t:a', 't:b'])).toBeGreaterThan(before);
    const after = store.now();
    expect(store.latest(['t:a'])).toBe(after); // an entry computed from now on is not older
    store.invalidate(['t:b'], 10_500);
    store.invalidate(['t:a'], 10_900); // re-invalidated: moves to the end
    store.invalidate(['t:c'], 11_600); // t:b is past the retention now
    expect(store.size).toBe(2);
    expect(store.latest(['t:b'])).toBe(0);
    expect(store.latest(['t:a'])).toBeGreaterThan(0);
  });
});

describe('invalidateTags on a stopped node', () => {
  it('resolves (no near tier nor network left to tell) rather than throwing a TypeError', async () => {
    const { Node } = await import('../../../src/index.js');
    const node = new Node({ env: {} });
    node.addService({
      name: 'user',
      actions: { get: { cache: { keys: ['id'], tags: ['user:{id}'] }, handler: () => 1 } },
    });
    await node.start();
    await node.stop();
    await expect(node.cache.invalidateTags(['user:1'])).resolves.toEqual({ invalidated: ['user:1'] });
  });
});
