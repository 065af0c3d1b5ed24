/** The near tier alone: fills refused after a racing invalidation, ttl bound, coherence down/up; and its configuration. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cache/config.js';
import { compileGlob } from '../../src/cache/glob.js';
import { NearTier } from '../../src/cache/near/tier.js';
import { MeshError, Node } from '../../src/index.js';

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
