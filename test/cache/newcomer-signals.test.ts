/**
 * The logs and `stats()` say what is happening: configuration that names
 * nothing, a Redis URL nothing uses and the implicit default address are
 * warned about at start; `available` is false while a backend is skipped or
 * Redis is down; Redis tracking is not claimed while it is off; the effective
 * backend is reported; a normal first join flushes nothing and says nothing.
 */
import { describe, expect, it } from 'vitest';
import { BUILTIN_BACKENDS } from '../../src/cache/backends/registry.js';
import { type CacheBackend, Node } from '../../src/index.js';
import { captureLogger, waitFor } from '../helpers/log.js';
import { useNodes } from '../helpers/nodes.js';
import { deadPort, RedisServer, redisAvailable } from '../helpers/redis-server.js';

const { started, track } = useNodes();

const users = () => ({
  name: 'user',
  actions: { get_user: { cache: { keys: ['id'] }, handler: (_c: unknown, p: { id: number }) => ({ ...p }) } },
});

describe('warnings at start', () => {
  it('names configured services and actions the node does not host, with the names it hosts', async () => {
    const { logger, messages } = captureLogger('warn');
    await started(
      {
        logger,
        config: { services: { usr: { cache: { ttl: 5 } }, user: { actions: { get_usr: { cache: true } } } } },
      },
      users(),
    );
    const text = messages().join('\n');
    expect(text).toMatch(
      /services\.usr .*this node hosts no service 'usr' \(did you mean user\? hosted: user\)/,
    );
    expect(text).toMatch(
      /services\.user\.actions\.get_usr .*has no action 'get_usr' \(did you mean get_user\?/,
    );
  });

  it('says nothing when every configured name is hosted', async () => {
    const { logger, messages } = captureLogger('warn');
    await started(
      { logger, config: { services: { user: { actions: { get_user: { cache: true } } } } } },
      users(),
    );
    expect(messages().filter((m) => /does not host/.test(m))).toEqual([]);
  });

  it('says that CACHE_REDIS_URL alone does not choose Redis', async () => {
    const { logger, messages } = captureLogger('warn');
    await started({ logger, env: { CACHE_REDIS_URL: 'redis://127.0.0.1:1' } }, users());
    expect(messages().join('\n')).toMatch(
      /CACHE_REDIS_URL is set but nothing caches in Redis \(cache.backend is 'memory'\): set CACHE_BACKEND=redis/,
    );
  });

  it('says when a Redis backend falls back to the default 127.0.0.1:6379 (and not when given an address)', async () => {
    const redis = BUILTIN_BACKENDS.find((d) => d.name === 'redis')!;
    const context = (logger: ReturnType<typeof captureLogger>['logger']) => ({
      prefix: 'cache:',
      replication: 3,
      memory: {},
      network: undefined,
      logger,
    });
    const implicit = captureLogger('warn');
    await redis.create({}, context(implicit.logger)); // not opened: nothing connects
    expect(implicit.messages()).toEqual([
      'cache backend redis: no CACHE_REDIS_URL nor cache.redis url/host/cluster/sentinels given: using the default 127.0.0.1:6379',
    ]);
    const given = captureLogger('warn');
    await redis.create({ url: 'redis://127.0.0.1:1' }, context(given.logger));
    expect(given.messages()).toEqual([]);
  });
});

describe('stats() reports the effective backend and its availability', () => {
  it("a 'dht' backend on a node without a network is memory, and says so", async () => {
    const node = await started({ config: { cache: { backend: 'dht' } } }, users());
    await node.request('user/get_user', { id: 1 });
    expect(node.cache.stats().backends.dht.kind).toBe('memory');
    const mem = await started({}, { ...users(), name: 'other' });
    expect(mem.cache.stats().backends.memory.kind).toBe('memory');
  });

  it('available is false while the backend is skipped after repeated failures', async () => {
    const broken: CacheBackend = {
      get: () => Promise.reject(new Error('down')),
      set: () => Promise.reject(new Error('down')),
      delete: () => false,
      clear: () => 0,
    };
    const node = await started(
      {
        backends: { broken },
        config: { cache: { backend: 'broken', failure: { failureThreshold: 2, cooldownMs: 60_000 } } },
      },
      users(),
    );
    expect(node.cache.stats().backends.broken.available).toBe(true);
    for (let i = 0; i < 3; i++) await node.request('user/get_user', { id: i });
    const b = node.cache.stats().backends.broken;
    expect(b.errors).toBeGreaterThanOrEqual(2);
    expect(b.available).toBe(false);
  });
});

describe.skipIf(!redisAvailable())('Redis signals', () => {
  it('available turns false when Redis goes down, and true when it is back', async () => {
    const server = await RedisServer.start();
    try {
      const node = await started(
        { config: { cache: { backend: 'redis', redis: { url: server.url } } } },
        users(),
      );
      await node.request('user/get_user', { id: 1 });
      expect(node.cache.stats().backends.redis.available).toBe(true);
      await server.halt();
      await waitFor(() => node.cache.stats().backends.redis.available === false, 10_000);
      await server.start();
      await waitFor(() => node.cache.stats().backends.redis.available === true, 15_000, 50);
    } finally {
      await server.stop();
    }
  }, 40_000);

  it('does not claim client tracking keeps the near tier coherent while Redis is unreachable', async () => {
    const { logger, messages } = captureLogger('info');
    const port = await deadPort();
    const node = track(
      new Node({
        env: {},
        logger,
        config: { cache: { backend: 'redis', redis: { url: `redis://127.0.0.1:${port}` } } },
      }),
    );
    node.addService(users());
    await node.start();
    const text = messages().join('\n');
    expect(text).toMatch(/Redis client tracking is not on \(Redis unreachable\)/);
    expect(text).not.toMatch(/tracking \(BCAST, NOLOOP\) keeps it coherent/);
    expect(node.cache.stats().backends.redis.available).toBe(false);
  }, 30_000);
});

describe('joining a network', () => {
  it('a normal first join flushes nothing and logs no flush; a node that cached alone says why it flushes', async () => {
    const logsA = captureLogger('info');
    const logsB = captureLogger('info');
    const a = await started(
      { logger: logsA.logger, network: { id: 'first-join', listen: ['/ip4/127.0.0.1/tcp/0'] } },
      users(),
    );
    await a.request('user/get_user', { id: 1 }); // cached while alone
    const b = await started(
      {
        logger: logsB.logger,
        network: { id: 'first-join', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: a.network!.addresses() },
      },
      users(),
    );
    await waitFor(() => a.network!.peers().length > 0 && b.network!.peers().length > 0, 20_000, 20);
    await waitFor(() => logsA.messages().some((m) => /near tier: flushed/.test(m)), 5_000, 20);
    expect(logsA.messages().find((m) => /near tier: flushed/.test(m))).toMatch(
      /before the first peer joined/,
    );
    expect(logsB.messages().filter((m) => /near tier: flushed|back online/.test(m))).toEqual([]);
    expect(b.cache.stats().near?.flushes ?? 0).toBe(0);
  }, 40_000);
});
