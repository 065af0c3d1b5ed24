/**
 * The Redis backend through real meshcache nodes: a cache shared between nodes,
 * management actions, and the failure path (Redis down at start, killed and
 * restarted under load) with zero failed requests.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../../src/cache/backends/redis.js';
import { Node } from '../../../src/index.js';
import { waitFor } from '../../helpers/log.js';
import {
  captureLogger,
  deadPort,
  type RedisServer,
  redisAvailable,
  startRedisServer,
} from '../../helpers/redis-server.js';

const available = redisAvailable();

const eventually = (check: () => boolean | Promise<boolean>, ms = 20_000) => waitFor(check, ms, 20);

/** A node with one cached service; `calls` counts handler runs. */
function userNode(
  redis: Record<string, unknown>,
  opts: {
    networkId?: string;
    backends?: Record<string, RedisBackend>;
    failure?: Record<string, number>;
    near?: boolean;
  } = {},
) {
  const calls = { get_user: 0 };
  const log = captureLogger('warn');
  const node = new Node({
    networkId: opts.networkId ?? 'default',
    logger: log.logger,
    backends: opts.backends,
    config: {
      cache: {
        backend: 'redis',
        redis,
        ttl: 60,
        ...(opts.failure ? { failure: opts.failure } : {}),
        ...(opts.near === false ? { near: { enabled: false } } : {}),
      },
    },
  });
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { enabled: true, ttl: 60, keys: ['id'] },
        handler: async (_ctx: unknown, p: { id: number }) => {
          calls.get_user++;
          return {
            id: p.id,
            name: `user ${p.id}`,
            seen: new Date(1_700_000_000_000),
            big: BigInt(p.id) * 10n,
          };
        },
      },
    },
  });
  return { node, calls, log };
}

describe.skipIf(!available)('Redis backend through meshcache nodes', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedisServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('shares the cache between two nodes: computed on A, a hit on B', async () => {
    const a = userNode({ url: server.url });
    const b = userNode({ url: server.url });
    await a.node.start();
    await b.node.start();
    try {
      const fromA = await a.node.request('user/get_user', { id: 123 });
      expect(a.calls.get_user).toBe(1);
      const fromB = await b.node.request('user/get_user', { id: 123 });
      expect(b.calls.get_user).toBe(0); // served from Redis
      expect(fromB).toEqual(fromA);
      expect((fromB as { seen: Date }).seen).toBeInstanceOf(Date);
      expect((fromB as { big: bigint }).big).toBe(1230n);
      expect(b.node.cache.stats().services.user.actions.get_user).toMatchObject({ hits: 1, misses: 0 });
      expect(await server.cli('EXISTS', 'cache:default/user/get_user:123')).toMatch(/1/);

      // Management actions on A act on the shared store.
      await b.node.request('user/get_user', { id: 124 });
      expect(b.calls.get_user).toBe(1);
      expect(await a.node.request('user/cache/revoke', { pattern: 'get_user:12?' })).toEqual({ revoked: 2 });
      // B's near copy goes when Redis's invalidation push reaches it (a few ms: README, near tier).
      await eventually(async () => {
        await b.node.request('user/get_user', { id: 123 });
        return b.calls.get_user === 2;
      }, 2_000);
      expect(b.calls.get_user).toBe(2);
      expect(await a.node.request('user/cache/delete', { key: 'get_user:123' })).toEqual({ deleted: true });
      await a.node.request('user/get_user', { id: 5 });
      expect(await b.node.request('user/cache/clear')).toEqual({ cleared: 1 });
      expect(await server.cli('DBSIZE')).toMatch(/^0/);
    } finally {
      await a.node.stop();
      await b.node.stop();
    }
  });

  it('keeps networks apart, and accepts a RedisBackend instance in `backends`', async () => {
    const instance = new RedisBackend({ host: server.host, port: server.port });
    const a = userNode({ url: server.url }, { networkId: 'net-a' });
    const b = userNode({}, { networkId: 'net-b', backends: { redis: instance } });
    await a.node.start();
    await b.node.start();
    try {
      expect(instance.state).toBe('up');
      await a.node.request('user/get_user', { id: 1 });
      await b.node.request('user/get_user', { id: 1 });
      expect(a.calls.get_user).toBe(1);
      expect(b.calls.get_user).toBe(1); // another network: another key
      await b.node.request('user/get_user', { id: 1 });
      expect(b.calls.get_user).toBe(1);
      expect(
        await server.cli('EXISTS', 'cache:net-a/user/get_user:1', 'cache:net-b/user/get_user:1'),
      ).toMatch(/2/);
      expect(await b.node.request('user/cache/clear')).toEqual({ cleared: 1 });
      expect(await server.cli('EXISTS', 'cache:net-a/user/get_user:1')).toMatch(/1/);
    } finally {
      await a.node.stop();
      await b.node.stop();
    }
    expect(instance.state).toBe('closed');
    await server.cli('FLUSHALL');
  });

  it('starts with Redis down, serves every request through the handler, caches once Redis is up', async () => {
    const port = await deadPort();
    const n = userNode(
      { url: `redis://127.0.0.1:${port}`, maxReconnectDelayMs: 200 },
      { failure: { cooldownMs: 200 } },
    );
    await n.node.start(); // does not throw
    let late: RedisServer | undefined;
    try {
      for (let i = 0; i < 20; i++) {
        expect(await n.node.request('user/get_user', { id: 1 })).toMatchObject({ id: 1 });
      }
      expect(n.calls.get_user).toBe(20);
      late = await startRedisServer({ port });
      // Caching resumes by itself: eventually a call is served without the handler.
      await eventually(async () => {
        const before = n.calls.get_user;
        await n.node.request('user/get_user', { id: 1 });
        return n.calls.get_user === before;
      });
      expect(await late.cli('EXISTS', 'cache:default/user/get_user:1')).toMatch(/1/);
    } finally {
      await n.node.stop();
      await late?.stop();
    }
  });

  it('kill and restart of redis-server during a load: zero failed requests, caching resumes', async () => {
    const n = userNode({ url: server.url, maxReconnectDelayMs: 200 }, { failure: { cooldownMs: 300 } });
    await n.node.start();
    let ok = 0;
    let failed = 0;
    let maxMs = 0;
    let stop = false;
    const worker = async (w: number) => {
      let i = w;
      while (!stop) {
        const t0 = performance.now();
        try {
          const r = (await n.node.request('user/get_user', { id: i % 200 })) as { id: number };
          if (r.id !== i % 200) throw new Error('wrong result');
          ok++;
        } catch {
          failed++;
        }
        maxMs = Math.max(maxMs, performance.now() - t0);
        i += 7;
        if (i % 50 < 7) await new Promise((r) => setImmediate(r)); // about every 7th call: let timers run
      }
    };
    try {
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 500));
      const beforeKill = ok;
      await server.kill();
      await new Promise((r) => setTimeout(r, 700));
      const whileDown = ok;
      await server.start();
      await eventually(
        () => n.node.cache.stats().services.user.actions.get_user.hits > 0 && ok > whileDown + 1000,
      );
      const hitsAfter = n.node.cache.stats().hits;
      await new Promise((r) => setTimeout(r, 500));
      stop = true;
      await Promise.all(workers);
      expect(failed).toBe(0);
      expect(beforeKill).toBeGreaterThan(0);
      expect(whileDown).toBeGreaterThan(beforeKill); // requests kept succeeding with Redis dead
      expect(n.node.cache.stats().hits).toBeGreaterThan(hitsAfter); // cache hits again after the restart
      expect(maxMs).toBeLessThan(3000); // loose: nobody waited on the dead server
      // The data died with the process (no persistence) and was rebuilt by the handler.
      expect(Number((await server.cli('DBSIZE')).trim())).toBeGreaterThan(0);
      console.log(`kill/restart under load: ${ok} ok, ${failed} failed, slowest ${maxMs.toFixed(1)} ms`);
    } finally {
      stop = true;
      await n.node.stop();
    }
  }, 60_000);

  it('Redis back after a restart under load: zero failed requests; a new key is cached soon after Redis answers (default cool-down)', async () => {
    // The default 5 s cool-down: only the connection coming back can close the breaker this early.
    const n = userNode({ url: server.url }, { near: false });
    await n.node.start();
    const probe = new Redis({
      host: server.host,
      port: server.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 20,
    });
    let failed = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = w; !stop; i += 5) {
        try {
          await n.node.request('user/get_user', { id: i % 100 });
        } catch {
          failed++;
        }
        await new Promise((r) => setImmediate(r));
      }
    };
    const workers = Array.from({ length: 4 }, (_, w) => worker(w));
    try {
      await new Promise((r) => setTimeout(r, 300));
      await server.kill();
      await eventually(() => n.node.cache.stats().backends.redis?.available === false, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      await server.start();
      await probe.connect().catch(() => {});
      await eventually(async () => (await probe.ping().catch(() => '')) === 'PONG', 10_000);
      const answering = performance.now();
      let fresh = 100_000;
      let cachedAfter = Number.NaN;
      while (performance.now() - answering < 5_000) {
        const id = fresh++;
        await n.node.request('user/get_user', { id });
        if ((await probe.exists(`cache:default/user/get_user:${id}`)) === 1) {
          cachedAfter = performance.now() - answering;
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      stop = true;
      await Promise.all(workers);
      console.log(`Redis back: a new key cached ${cachedAfter.toFixed(0)} ms after Redis answered`);
      expect(failed).toBe(0);
      // Before the breaker listened to the connection this took the whole 5 s cool-down.
      expect(cachedAfter).toBeLessThan(1_000);
    } finally {
      stop = true;
      probe.disconnect();
      await n.node.stop();
    }
  }, 60_000);

  it('a hung redis-server (SIGSTOP) during a load: zero failed requests, bounded waits, caching resumes', async () => {
    // Tests Redis itself: near copies would answer every hit without asking the hung server.
    const n = userNode(
      { url: server.url, operationTimeoutMs: 100 },
      { failure: { cooldownMs: 300 }, near: false },
    );
    await n.node.start();
    let ok = 0;
    let failed = 0;
    let maxMs = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = w, round = 1; !stop; i += 5, round++) {
        const t0 = performance.now();
        try {
          await n.node.request('user/get_user', { id: i % 100 });
          ok++;
        } catch {
          failed++;
        }
        maxMs = Math.max(maxMs, performance.now() - t0);
        if (round % 40 === 0) await new Promise((r) => setImmediate(r)); // let timers run
      }
    };
    try {
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 300));
      server.pause();
      await new Promise((r) => setTimeout(r, 800));
      const hitsBeforeResume = n.node.cache.stats().hits;
      server.resume();
      await eventually(() => n.node.cache.stats().hits > hitsBeforeResume + 100);
      stop = true;
      await Promise.all(workers);
      expect(failed).toBe(0);
      expect(ok).toBeGreaterThan(0);
      expect(n.node.cache.stats().errors).toBeGreaterThan(0); // the stall was seen and counted
      expect(maxMs).toBeLessThan(3000); // loose: bounded by the operation timeout, not by the stall
      console.log(`hung server under load: ${ok} ok, ${failed} failed, slowest ${maxMs.toFixed(1)} ms`);
    } finally {
      stop = true;
      server.resume();
      await n.node.stop();
    }
  }, 60_000);
});
