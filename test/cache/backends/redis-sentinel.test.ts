/**
 * The Redis backend behind Redis Sentinel, with real processes: a primary, a
 * replica and three sentinels. A node finds the primary through the
 * sentinels, and when the primary is killed under load it follows the
 * failover to the promoted replica without a failed request: the near tier is
 * flushed and tracking is on again on the new primary.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../../src/cache/backends/redis.js';
import { MeshError } from '../../../src/errors.js';
import { Node } from '../../../src/index.js';
import { waitFor } from '../../helpers/log.js';
import { type RedisSentinelSet, startRedisSentinelSet } from '../../helpers/redis-sentinel.js';
import { captureLogger, redisAvailable } from '../../helpers/redis-server.js';

const available = redisAvailable();

function userNode(redis: Record<string, unknown>) {
  const calls = { get_user: 0 };
  const log = captureLogger('warn');
  const node = new Node({
    logger: log.logger,
    config: { cache: { backend: 'redis', redis, ttl: 60, failure: { cooldownMs: 300 } } },
  });
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { enabled: true, ttl: 60, keys: ['id'] },
        handler: async (_ctx: unknown, p: { id: number }) => {
          calls.get_user++;
          return { id: p.id, name: `user ${p.id}` };
        },
      },
    },
  });
  return { node, calls, log };
}

const key = (id: number) => `cache:default/user/get_user:${id}`;

describe('cache.redis.sentinels options', () => {
  const code = (options: Record<string, unknown>) => {
    try {
      new RedisBackend(options);
    } catch (err) {
      return MeshError.is(err) ? `${err.code} ${err.details.field}` : String(err);
    }
    return 'no error';
  };
  const sentinels = [{ host: '127.0.0.1', port: 26379 }];

  it('accepts sentinels with a name, refuses them without one or with another way to connect', () => {
    expect(code({ sentinels, name: 'mymaster' })).toBe('no error');
    expect(code({ sentinels: ['127.0.0.1:26379'], name: 'mymaster', sentinelPassword: 's' })).toBe(
      'no error',
    );
    expect(code({ sentinels })).toBe('CONFIG_INVALID cache.redis.name');
    expect(code({ sentinels: [], name: 'm' })).toBe('CONFIG_INVALID cache.redis.sentinels');
    expect(code({ sentinels: [{ host: 'h' }], name: 'm' })).toMatch(
      /^CONFIG_INVALID cache\.redis\.sentinels/,
    );
    expect(code({ sentinels, name: 'm', url: 'redis://h:1' })).toBe('CONFIG_INVALID cache.redis.sentinels');
    expect(code({ sentinels, name: 'm', port: 6380 })).toBe('CONFIG_INVALID cache.redis.sentinels');
    expect(code({ sentinels, name: 'm', cluster: ['h:1'] })).toBe('CONFIG_INVALID cache.redis.sentinels');
    expect(code({ name: 'm' })).toBe('CONFIG_INVALID cache.redis.sentinels');
    expect(code({ sentinelPassword: 'x' })).toBe('CONFIG_INVALID cache.redis.sentinels');
  });
});

describe.skipIf(!available)('Redis backend behind Sentinel', () => {
  let set: RedisSentinelSet;

  beforeEach(async () => {
    set = await startRedisSentinelSet();
  }, 30_000);

  afterEach(async () => {
    await set?.stop();
  });

  it('caches through the primary the sentinels name: a hit after a miss, the entry on the primary', async () => {
    const n = userNode({ sentinels: set.sentinels, name: set.name });
    await n.node.start();
    try {
      expect(n.node.cache.stats().backends.redis?.available).toBe(true);
      expect(n.log.messages()).toEqual([]); // no warning (e.g. about the default 127.0.0.1:6379)
      await n.node.request('user/get_user', { id: 1 });
      await n.node.request('user/get_user', { id: 1 });
      expect(n.calls.get_user).toBe(1);
      expect(n.node.cache.stats().services.user.actions.get_user).toMatchObject({ hits: 1, misses: 1 });
      expect(await set.primary.cli('EXISTS', key(1))).toMatch(/1/);
    } finally {
      await n.node.stop();
    }
  }, 30_000);

  it('primary killed under load: zero failed requests; caching and tracking resume on the promoted replica', async () => {
    const n = userNode({ sentinels: set.sentinels, name: set.name });
    await n.node.start();
    let ok = 0;
    let failed = 0;
    let maxMs = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = w; !stop; i += 4) {
        const t0 = performance.now();
        try {
          const r = (await n.node.request('user/get_user', { id: i % 100 })) as { id: number };
          if (r.id !== i % 100) throw new Error('wrong result');
          ok++;
        } catch {
          failed++;
        }
        maxMs = Math.max(maxMs, performance.now() - t0);
        await new Promise((r) => setImmediate(r));
      }
    };
    try {
      await waitFor(() => n.node.cache.stats().near?.live === true, 5_000);
      const t0 = performance.now();
      const workers = Array.from({ length: 4 }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 500));
      const flushesBefore = n.node.cache.stats().near!.flushes;
      await set.primary.kill();
      const killedAt = performance.now();
      await set.waitPromoted();
      const promotedAt = performance.now();
      await waitFor(() => n.node.cache.stats().near?.live === true, 10_000, 10);
      const liveAt = performance.now();
      // Keep the load on to about 6 s in all.
      await new Promise((r) => setTimeout(r, Math.max(0, 6_000 - (performance.now() - t0))));
      stop = true;
      await Promise.all(workers);
      console.log(
        `sentinel failover under load: ${ok} ok, ${failed} failed, slowest ${maxMs.toFixed(0)} ms; ` +
          `promoted ${(promotedAt - killedAt).toFixed(0)} ms after the kill, near tier live again ` +
          `${(liveAt - promotedAt).toFixed(0)} ms after that`,
      );
      expect(failed).toBe(0);
      expect(ok).toBeGreaterThan(100);
      expect(n.node.cache.stats().near!.flushes).toBeGreaterThan(flushesBefore);

      // Caching resumes on the new primary: a new key lands on the promoted replica.
      await waitFor(
        async () => {
          await n.node.request('user/get_user', { id: 5000 });
          return (await set.replica.cli('EXISTS', key(5000))).startsWith('1');
        },
        5_000,
        20,
      );

      // Tracking is back: a near copy goes when another client deletes the key on the new primary.
      await n.node.request('user/get_user', { id: 6000 });
      const nearHits = n.node.cache.stats().near!.hits;
      await n.node.request('user/get_user', { id: 6000 });
      expect(n.node.cache.stats().near!.hits).toBe(nearHits + 1); // served from the near copy
      const calls = n.calls.get_user;
      expect(await set.replica.cli('DEL', key(6000))).toMatch(/1/);
      await waitFor(
        async () => {
          await n.node.request('user/get_user', { id: 6000 });
          return n.calls.get_user > calls;
        },
        2_000,
        10,
      );
    } finally {
      stop = true;
      await n.node.stop();
    }
  }, 60_000);
});
