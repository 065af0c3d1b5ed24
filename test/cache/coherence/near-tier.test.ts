/**
 * The near tier alone: fills refused after a racing invalidation, ttl bound, coherence
 * down/up, the index of tagged copies by tag record; and its configuration.
 */
import { describe, expect, it } from 'vitest';
import { NearTier } from '../../../src/cache/coherence/near-tier.js';
import { compileGlob } from '../../../src/cache/keys/glob.js';
import { CacheEnvelope } from '../../../src/cache/read/snapshot.js';
import { loadConfig } from '../../../src/cache/setup/config.js';
import { MeshError, Node } from '../../../src/index.js';

const settings = { enabled: true, maxEntries: 100, maxBytes: 0, maxAgeSeconds: 60, redis: 'auto' as const };

describe('NearTier', () => {
  it('refuses a fill whose read raced with an invalidation of the key, a prefix, a pattern or a flush', () => {
    const t = new NearTier(settings, 'tracking');
    for (const invalidate of [
      () => t.delete('s/a'),
      () => t.clear('s/'),
      () => t.revoke('s/', compileGlob('a*')),
      () => t.flush(),
    ]) {
      const token = t.token();
      invalidate();
      expect(t.fill('s/a', 'old', 10, token)).toBe(false);
      expect(t.get('s/a')).toBeUndefined();
    }
    const token = t.token();
    t.delete('s/other'); // another key: no effect on this fill
    expect(t.fill('s/a', 'new', 10, token)).toBe(true);
    expect(t.get('s/a')).toBe('new');
  });

  it('keeps a copy for min(remaining ttl, maxAgeSeconds); 0 or Infinity = maxAgeSeconds', async () => {
    const t = new NearTier({ ...settings, maxAgeSeconds: 0.2 }, 'bus');
    t.fill('a', 1, 0.05, t.token());
    t.fill('b', 2, 0, t.token());
    t.fill('c', 3, Number.POSITIVE_INFINITY, t.token());
    await new Promise((r) => setTimeout(r, 80));
    expect(t.get('a')).toBeUndefined();
    expect(t.get('b')).toBe(2);
    expect(t.get('c')).toBe(3);
    await new Promise((r) => setTimeout(r, 160));
    expect(t.get('b')).toBeUndefined();
    expect(t.get('c')).toBeUndefined();
    t.close();
  });

  it('serves and stores nothing while coherence is down, and comes back empty', () => {
    const t = new NearTier(settings, 'tracking');
    t.fill('a', 1, 10, t.token());
    const token = t.token();
    t.down();
    expect(t.get('a')).toBeUndefined();
    expect(t.fill('a', 1, 10, t.token())).toBe(false);
    t.up();
    expect(t.get('a')).toBeUndefined();
    expect(t.fill('a', 1, 10, token)).toBe(false); // a read that began before the outage
    expect(t.stats()).toMatchObject({ live: true, entries: 0 });
  });
});

/** A tagged copy as the near invoker stores it. */
const tagged = (value: unknown, ...tags: string[]) => new CacheEnvelope(value, 0, false, 0, tags, 1);

describe('NearTier: tagged copies', () => {
  it('a tag record key dropped from the tier takes every copy carrying it, and only those', () => {
    const t = new NearTier(settings, 'tracking');
    t.fill('s/a', tagged('a', 'tags/*/user:1'), 10, t.token());
    t.fill('s/b', tagged('b', 'tags/*/user:1', 'tags/*/org:9'), 10, t.token());
    t.fill('s/c', tagged('c', 'tags/*/user:2'), 10, t.token());
    t.fill('s/d', 'untagged', 10, t.token());
    expect(t.taggedEntries).toBe(3);
    t.delete('tags/*/user:1');
    expect(t.get('s/a')).toBeUndefined();
    expect(t.get('s/b')).toBeUndefined();
    expect((t.get('s/c') as CacheEnvelope).value).toBe('c');
    expect(t.get('s/d')).toBe('untagged');
    expect(t.taggedEntries).toBe(1);
    t.delete('tags/*/org:9'); // s/b is gone already: nothing left to drop, no error
    expect(t.taggedEntries).toBe(1);
  });

  it('refuses a fill whose read raced with an invalidation of one of its tag records', () => {
    const t = new NearTier(settings, 'tracking');
    const token = t.token();
    t.delete('tags/*/user:1'); // a tracking notice of the record's write, before the read answered
    expect(t.fill('s/a', tagged('old', 'tags/user/user:1', 'tags/*/user:1'), 10, token)).toBe(false);
    expect(t.get('s/a')).toBeUndefined();
    expect(t.fill('s/a', tagged('new', 'tags/*/user:1'), 10, t.token())).toBe(true);
  });

  it('the index follows the store: overwrite, delete, eviction, expiry, clear, revoke, flush', async () => {
    const t = new NearTier({ ...settings, maxEntries: 3 }, 'tracking');
    t.fill('s/a', tagged(1, 'tg/x'), 10, t.token());
    t.fill('s/a', tagged(2, 'tg/y'), 10, t.token()); // overwritten: no longer carries tg/x
    t.delete('tg/x');
    expect((t.get('s/a') as CacheEnvelope).value).toBe(2);
    t.fill('s/a', 'plain', 10, t.token()); // an untagged copy replaces it
    expect(t.taggedEntries).toBe(0);
    for (const k of ['s/1', 's/2', 's/3', 's/4', 's/5']) t.fill(k, tagged(k, 'tg/x'), 10, t.token());
    expect(t.stats().entries).toBe(3); // LRU capacity: two evicted...
    expect(t.taggedEntries).toBe(3); // ...and out of the index
    t.delete('s/5');
    expect(t.taggedEntries).toBe(2);
    t.revoke('s/', compileGlob('3'));
    expect(t.taggedEntries).toBe(1);
    t.clear('s/');
    expect(t.taggedEntries).toBe(0);
    t.fill('s/e', tagged('e', 'tg/x'), 0.03, t.token());
    await new Promise((r) => setTimeout(r, 60));
    expect(t.get('s/e')).toBeUndefined(); // expired when touched: dropped, and unindexed
    expect(t.taggedEntries).toBe(0);
    t.fill('s/f', tagged('f', 'tg/x'), 10, t.token());
    t.flush();
    expect(t.taggedEntries).toBe(0);
    t.close();
  });
});

describe('near configuration', () => {
  it('cache.near defaults, overrides, and near: false on a service or an action', () => {
    expect(loadConfig(undefined, {}).global.near).toEqual({
      enabled: true,
      maxEntries: 10_000,
      maxBytes: 64 * 1024 * 1024,
      maxAgeSeconds: 60,
      redis: 'auto',
    });
    const c = loadConfig(
      {
        cache: { near: { maxEntries: 5, redis: 'pubsub' } },
        services: { user: { cache: { near: false }, actions: { a: { cache: { near: false } } } } },
      },
      {},
    );
    expect(c.global.near).toMatchObject({ enabled: true, maxEntries: 5, redis: 'pubsub' });
  });

  it('refuses a bad near option with CONFIG_INVALID naming the field', async () => {
    expect(() => loadConfig({ cache: { near: { maxAgeSeconds: -1 } } }, {})).toThrow(/near\.maxAgeSeconds/);
    const node = new Node({ env: {} });
    node.addService({ name: 's', actions: { a: { cache: { near: 'no' as never }, handler: () => 1 } } });
    const err = await node.start().catch((e) => e);
    expect(MeshError.is(err) && err.code).toBe('CONFIG_INVALID');
    await node.stop();
  });
});
