/**
 * Cache policies on a real redis-server shared by several nodes: tags
 * across services and nodes (records read in the same round trip as the
 * value), a miss racing an invalidation made on another node, grace and
 * adaptive TTL through Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node, type RequestContext } from '../../../src/index.js';
import {
  captureLogger,
  type RedisServer,
  redisAvailable,
  startRedisServer,
} from '../../helpers/redis-server.js';
import { sleep } from '../../helpers/stores.js';

const available = redisAvailable();

/**
 * Near tier off: these cases check what holds with no message at all (the records read with the
 * value); tagged near copies and their propagation time: test/cache/coherence/near-redis-tags.test.ts.
 */
function tagNode(url: string, calls: Record<string, number>, opts: { gate?: () => Promise<void> } = {}) {
  const log = captureLogger('warn');
  const node = new Node({
    env: {},
    logger: log.logger,
    config: { cache: { backend: 'redis', redis: { url }, near: { enabled: false } } },
  });
  const count = (name: string) => async (_c: RequestContext, p: { id: number }) => {
    calls[name] = (calls[name] ?? 0) + 1;
    const n = calls[name];
    if (opts.gate) await opts.gate();
    return { id: p.id, n };
  };
  node.addService({
    name: 'user',
    actions: {
      get_user: { cache: { ttl: 60, keys: ['id'], tags: ['user:{id}'] }, handler: count('get_user') },
      untagged: { cache: { ttl: 60, keys: ['id'] }, handler: count('untagged') },
    },
  });
  node.addService({
    name: 'order',
    actions: {
      list: {
        cache: { ttl: 60, keys: ['id'], tags: (p: { id: number }) => [`user:${p.id}`] },
        handler: count('list'),
      },
    },
  });
  return { node, log };
}

describe.skipIf(!available)('cache policies on Redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('tags hold across two services and two nodes sharing one Redis', async () => {
    await server.cli('FLUSHALL');
    const calls: Record<string, number> = {};
    const a = tagNode(server.url, calls);
    const b = tagNode(server.url, calls);
    await a.node.start();
    await b.node.start();
    try {
      const all = async (node: Node, id: number) => {
        await node.request('user/get_user', { id });
        await node.request('user/untagged', { id });
        await node.request('order/list', { id });
      };
      await all(a.node, 1);
      await all(a.node, 2);
      await all(b.node, 1);
      await all(b.node, 2);
      expect(calls).toEqual({ get_user: 2, untagged: 2, list: 2 }); // B was served by Redis
      // Invalidated on A, with no message to B: B reads the record with the value.
      await a.node.cache.invalidateTags(['user:1']);
      await all(b.node, 1);
      await all(b.node, 2);
      expect(calls).toEqual({ get_user: 3, untagged: 2, list: 3 });
      expect(b.node.cache.stats().tagMisses).toBe(2);
      await all(a.node, 1);
      expect(calls).toEqual({ get_user: 3, untagged: 2, list: 3 }); // the new entries are good
      // Service-scoped: order only, on every node.
      expect(await b.node.request('order/cache/invalidate', { tags: ['user:2'] })).toEqual({
        invalidated: ['user:2'],
      });
      await all(a.node, 2);
      expect(calls).toEqual({ get_user: 3, untagged: 2, list: 4 });
      expect(
        await server.cli('EXISTS', 'cache:default/$tags/*/user:1', 'cache:default/$tags/order/user:2'),
      ).toMatch(/2/);
      // An untagged action's entries are plain (no header), tagged ones carry the header.
      expect((await server.cli('GET', 'cache:default/user/untagged:1')).startsWith('\u0001')).toBe(false);
      // cache/clear of a service keeps the tag records (they live outside service scopes).
      await a.node.request('user/cache/clear');
      expect(await server.cli('EXISTS', 'cache:default/$tags/*/user:1')).toMatch(/1/);
    } finally {
      await a.node.stop();
      await b.node.stop();
    }
  });

  it('tagged reads of one tick share one script call and keep their own records', async () => {
    await server.cli('FLUSHALL');
    const calls: Record<string, number> = {};
    const a = tagNode(server.url, calls);
    await a.node.start();
    try {
      const ids = Array.from({ length: 50 }, (_, i) => i);
      await Promise.all(ids.map((id) => a.node.request('user/get_user', { id })));
      await Promise.all(ids.map((id) => a.node.request('user/get_user', { id })));
      expect(calls.get_user).toBe(50);
      await a.node.cache.invalidateTags(['user:3', 'user:40']);
      const again = await Promise.all(ids.map((id) => a.node.request('user/get_user', { id })));
      expect(calls.get_user).toBe(52);
      expect(again[3]).toEqual({ id: 3, n: 51 });
      expect(again[4]).toMatchObject({ id: 4 });
    } finally {
      await a.node.stop();
    }
  });

  it('a miss on A that started before an invalidation on B is never served', async () => {
    await server.cli('FLUSHALL');
    const calls: Record<string, number> = {};
    let release: () => void = () => {};
    let held = true;
    const a = tagNode(server.url, calls, {
      gate: () => (held ? new Promise<void>((r) => (release = r)) : Promise.resolve()),
    });
    const b = tagNode(server.url, {});
    await a.node.start();
    await b.node.start();
    try {
      const pending = a.node.request('user/get_user', { id: 7 }); // reads, misses, handler waits
      await sleep(30);
      await b.node.cache.invalidateTags(['user:7']);
      release();
      held = false;
      expect(await pending).toEqual({ id: 7, n: 1 }); // its caller gets it...
      await sleep(20);
      expect(await b.node.request('user/get_user', { id: 7 })).toMatchObject({ n: 1 }); // B ran its own handler
      expect(b.node.cache.stats().tagMisses).toBe(1); // ...but the stored entry was refused
    } finally {
      await a.node.stop();
      await b.node.stop();
    }
  });

  it('soft timeout through Redis: the stale value, then the slow result once stored', async () => {
    await server.cli('FLUSHALL');
    let slow = false;
    let calls = 0;
    const node = new Node({ env: {}, config: { cache: { backend: 'redis', redis: { url: server.url } } } });
    node.addService({
      name: 'svc',
      actions: {
        get: {
          cache: { ttl: 0.2, grace: 10, softTimeoutMs: 30 },
          handler: async () => {
            const n = ++calls;
            if (slow) await sleep(150);
            return { n };
          },
        },
      },
    });
    await node.start();
    try {
      await node.request('svc/get');
      await sleep(250);
      slow = true;
      const t = Date.now();
      expect(await node.request('svc/get')).toEqual({ n: 1 });
      expect(Date.now() - t).toBeLessThan(140);
      await sleep(200);
      expect(await node.request('svc/get')).toEqual({ n: 2 });
      expect(node.cache.stats().softTimeouts).toBe(1);
    } finally {
      await node.stop();
    }
  });

  it('grace and adaptive TTL through Redis', async () => {
    await server.cli('FLUSHALL');
    let fail = false;
    let calls = 0;
    const node = new Node({ env: {}, config: { cache: { backend: 'redis', redis: { url: server.url } } } });
    node.addService({
      name: 'svc',
      actions: {
        get: {
          cache: { ttl: 0.1, grace: 5 },
          handler: () => {
            calls++;
            if (fail) throw new Error('down');
            return { v: calls };
          },
        },
        adaptive: {
          cache: { keys: ['id'], ttl: (r: { id: number }) => (r.id === 1 ? 0.1 : 60) },
          handler: (_c: RequestContext, p: { id: number }) => ({ id: p.id, c: ++calls }),
        },
      },
    });
    await node.start();
    try {
      await node.request('svc/get');
      await sleep(150);
      fail = true;
      expect(await node.request('svc/get')).toEqual({ v: 1 });
      expect(node.cache.stats().graceHits).toBe(1);
      expect(Number(await server.cli('PTTL', 'cache:default/svc/get'))).toBeGreaterThan(4000);
      await node.request('svc/adaptive', { id: 1 });
      await node.request('svc/adaptive', { id: 2 });
      expect(Number(await server.cli('PTTL', 'cache:default/svc/adaptive:1'))).toBeLessThanOrEqual(100);
      expect(Number(await server.cli('PTTL', 'cache:default/svc/adaptive:2'))).toBeGreaterThan(59_000);
    } finally {
      await node.stop();
    }
  });
});
