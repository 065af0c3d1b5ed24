/**
 * The near tier in front of Redis, on a real redis-server (and the suite's
 * 3-master cluster): hits served in process, kept coherent by client tracking
 * (writes and deletes by other nodes and by any other Redis client), the
 * notification connection lost and back, the read/invalidate race, the pub/sub
 * fallback, and the opt-out.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../../src/cache/backends/redis.js';
import { Node } from '../../../src/index.js';
import { waitFor } from '../../helpers/log.js';
import {
  captureLogger,
  RedisCluster,
  type RedisServer,
  redisAvailable,
  startRedisServer,
} from '../../helpers/redis-server.js';

const available = redisAvailable();

/** The value the handler returns: `version` changes when the "database" is updated. */
const db = { version: 1, calls: 0 };

function makeNode(
  redis: Record<string, unknown>,
  opts: {
    near?: Record<string, unknown>;
    actionNear?: boolean;
    backends?: Record<string, RedisBackend>;
  } = {},
) {
  const log = captureLogger('info');
  const node = new Node({
    logger: log.logger,
    backends: opts.backends,
    config: { cache: { backend: 'redis', redis, ttl: 60, ...(opts.near ? { near: opts.near } : {}) } },
  });
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { ttl: 60, keys: ['id'], ...(opts.actionNear === false ? { near: false } : {}) },
        handler: async (_ctx: unknown, p: { id: number }) => {
          db.calls++;
          return { id: p.id, version: db.version };
        },
      },
    },
  });
  return { node, log };
}

async function reads(server: RedisServer): Promise<number> {
  const info = await server.cli('INFO', 'commandstats');
  let n = 0;
  for (const m of info.matchAll(/cmdstat_(get|mget):calls=(\d+)/g)) n += Number(m[2]);
  return n;
}

const version = async (node: Node, id: number) =>
  ((await node.request('user/get_user', { id })) as { version: number }).version;

describe.skipIf(!available)('near tier in front of Redis (client tracking)', () => {
  let server: RedisServer;
  let raw: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    raw = new Redis({ host: server.host, port: server.port });
  });

  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });

  it('repeated hits send no reads to Redis; stats().near says tracking', async () => {
    const a = makeNode({ url: server.url });
    await a.node.start();
    try {
      await waitFor(() => a.node.cache.stats().near?.live === true, 5_000);
      expect(a.node.cache.stats().near?.mode).toBe('tracking');
      expect(a.log.messages().some((m) => m.includes('Redis client tracking'))).toBe(true);
      await a.node.request('user/get_user', { id: 1 }); // miss: handler, SET, near filled
      const before = await reads(server);
      for (let i = 0; i < 1000; i++) await a.node.request('user/get_user', { id: 1 });
      await Promise.all(Array.from({ length: 100 }, () => a.node.request('user/get_user', { id: 1 })));
      expect(await reads(server)).toBe(before);
      const s = a.node.cache.stats();
      expect(s.near?.hits).toBeGreaterThanOrEqual(1100);
      expect(s.hits).toBeGreaterThanOrEqual(1100);
    } finally {
      await a.node.stop();
    }
  });

  it('a hit on another node fills its tier too (one GET, then none)', async () => {
    const a = makeNode({ url: server.url });
    const b = makeNode({ url: server.url });
    await a.node.start();
    await b.node.start();
    try {
      await waitFor(() => b.node.cache.stats().near?.live === true, 5_000);
      const calls = db.calls;
      await a.node.request('user/get_user', { id: 2 });
      const before = await reads(server);
      await b.node.request('user/get_user', { id: 2 }); // remote hit: GET + PTTL
      for (let i = 0; i < 100; i++) await b.node.request('user/get_user', { id: 2 });
      expect(await reads(server)).toBe(before + 1);
      expect(db.calls).toBe(calls + 1);
    } finally {
      await a.node.stop();
      await b.node.stop();
    }
  });

  it('a delete on one node and a DEL by another client reach every near tier', async () => {
    const nodes = [
      makeNode({ url: server.url }),
      makeNode({ url: server.url }),
      makeNode({ url: server.url }),
    ];
    for (const n of nodes) await n.node.start();
    try {
      await waitFor(() => nodes.every((n) => n.node.cache.stats().near?.live === true), 5_000);
      db.version = 10;
      for (const n of nodes) expect(await version(n.node, 3)).toBe(10);
      // cache/delete on node 0: node 0 never serves the old value once it resolved; the others within ms.
      db.version = 11;
      await nodes[0].node.request('user/cache/delete', { key: 'get_user:3' });
      expect(await version(nodes[0].node, 3)).toBe(11);
      for (const n of nodes.slice(1)) await waitFor(async () => (await version(n.node, 3)) === 11, 2_000);
      // A DEL by a plain Redis client (a script, redis-cli).
      db.version = 12;
      await raw.del('cache:default/user/get_user:3');
      for (const n of nodes) await waitFor(async () => (await version(n.node, 3)) === 12, 2_000);
      // A SET by another client replaces the value everywhere.
      const { encodeValue } = await import('../../../src/codec/index.js');
      const { CacheEnvelope } = await import('../../../src/codec/envelope.js');
      await raw.set(
        'cache:default/user/get_user:3',
        encodeValue(new CacheEnvelope({ id: 3, version: 99 }, 0, false)),
        'PX',
        60_000,
      );
      for (const n of nodes) await waitFor(async () => (await version(n.node, 3)) === 99, 2_000);
      // clear and revoke too.
      db.version = 13;
      await nodes[1].node.request('user/cache/revoke', { pattern: 'get_user:*' });
      for (const n of nodes) await waitFor(async () => (await version(n.node, 3)) === 13, 2_000);
      db.version = 14;
      await nodes[2].node.request('user/cache/clear');
      expect(await version(nodes[2].node, 3)).toBe(14);
      for (const n of nodes) await waitFor(async () => (await version(n.node, 3)) === 14, 2_000);
    } finally {
      for (const n of nodes) await n.node.stop();
    }
  });

  it('a killed notification connection plus a DEL during the outage leave no stale near entry', async () => {
    const a = makeNode({ url: server.url });
    await a.node.start();
    try {
      await waitFor(() => a.node.cache.stats().near?.live === true, 5_000);
      db.version = 20;
      expect(await version(a.node, 4)).toBe(20);
      const flushes = a.node.cache.stats().near!.flushes;
      await server.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
      db.version = 21;
      await raw.del('cache:default/user/get_user:4'); // its notice goes nowhere
      // Whether the tier is still down or already back (flushed), the old value is never served.
      expect(await version(a.node, 4)).toBe(21);
      await waitFor(() => a.node.cache.stats().near?.live === true, 5_000);
      expect(a.node.cache.stats().near!.flushes).toBeGreaterThan(flushes);
      expect(await version(a.node, 4)).toBe(21);
      // Tracking works again after the reconnection.
      db.version = 22;
      await raw.del('cache:default/user/get_user:4');
      await waitFor(async () => (await version(a.node, 4)) === 22, 2_000);
    } finally {
      await a.node.stop();
    }
  });

  it('a silent Redis (SIGSTOP): the tier stops serving within the staleness bound, every request is answered, and it serves again, unflushed, once Redis answers', async () => {
    const own = await startRedisServer();
    const a = makeNode({ url: own.url });
    await a.node.start();
    try {
      await waitFor(() => a.node.cache.stats().near?.live === true, 5_000);
      db.version = 30;
      expect(await version(a.node, 5)).toBe(30);
      const flushes = a.node.cache.stats().near!.flushes;
      const stoppedAt = performance.now();
      own.pause();
      await waitFor(() => a.node.cache.stats().near?.live === false, 3_000);
      // The default bound is 1000 ms; the last answered ping was sent at most 250 ms before the pause.
      expect(performance.now() - stoppedAt).toBeLessThan(1_000);
      expect(a.log.messages().some((m) => m.includes('did not answer within the staleness bound'))).toBe(
        true,
      );
      // Not from the tier, and not failed: Redis does not answer, so the handler does.
      db.version = 31;
      expect(await version(a.node, 5)).toBe(31);
      own.resume();
      await waitFor(() => a.node.cache.stats().near?.live === true, 5_000);
      // A silence is not a loss: the connection delivered every notice in order, nothing was flushed.
      expect(a.node.cache.stats().near!.flushes).toBe(flushes);
    } finally {
      own.resume();
      await a.node.stop();
      await own.stop();
    }
  });

  it('a killed data connection (tracking lost with it) plus a DEL during the outage leave no stale near entry', async () => {
    const a = makeNode({ url: server.url });
    await a.node.start();
    try {
      await waitFor(() => a.node.cache.stats().near?.live === true, 5_000);
      db.version = 25;
      expect(await version(a.node, 14)).toBe(25);
      const flushes = a.node.cache.stats().near!.flushes;
      await server.cli('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes'); // every data connection
      db.version = 26;
      await raw.del('cache:default/user/get_user:14');
      expect(await version(a.node, 14)).toBe(26);
      await waitFor(() => a.node.cache.stats().near?.live === true, 5_000);
      expect(a.node.cache.stats().near!.flushes).toBeGreaterThan(flushes);
      db.version = 27;
      await version(a.node, 15);
      await version(a.node, 15);
      await raw.del('cache:default/user/get_user:15');
      await waitFor(async () => (await version(a.node, 15)) === 27, 2_000);
    } finally {
      await a.node.stop();
    }
  });

  it('an invalidation that arrives while a read is in flight does not leave the old value in the tier', async () => {
    const rb = new RedisBackend({ url: server.url });
    let gate: Promise<void> | undefined;
    const read = rb.getWithTtl.bind(rb);
    rb.getWithTtl = async (key: string) => {
      const answer = await read(key);
      await gate;
      return answer;
    };
    const a = makeNode({ url: server.url });
    const b = makeNode({}, { backends: { redis: rb } });
    await a.node.start();
    await b.node.start();
    try {
      await waitFor(() => b.node.cache.stats().near?.live === true, 5_000);
      db.version = 30;
      await a.node.request('user/get_user', { id: 5 }); // in Redis
      let open!: () => void;
      gate = new Promise((r) => {
        open = r;
      });
      const inflight = b.node.request('user/get_user', { id: 5 }); // reads version 30, held at the gate
      await new Promise((r) => setTimeout(r, 20));
      const seen = b.node.cache.stats().near!.invalidations;
      db.version = 31;
      await raw.del('cache:default/user/get_user:5');
      await waitFor(() => b.node.cache.stats().near!.invalidations > seen, 2_000);
      open();
      gate = undefined;
      expect(((await inflight) as { version: number }).version).toBe(30); // answered before the DEL
      expect(await version(b.node, 5)).toBe(31); // but not kept
    } finally {
      await a.node.stop();
      await b.node.stop();
    }
  });

  it('near: false on an action and cache.near.enabled: false send every hit to Redis', async () => {
    for (const opts of [{ actionNear: false }, { near: { enabled: false } }]) {
      const a = makeNode({ url: server.url }, opts);
      await a.node.start();
      try {
        await a.node.request('user/get_user', { id: 6 });
        const before = await reads(server);
        for (let i = 0; i < 10; i++) await a.node.request('user/get_user', { id: 6 });
        expect(await reads(server)).toBe(before + 10);
      } finally {
        await a.node.stop();
      }
    }
  });

  it('a near copy never outlives the Redis entry (min of the remaining ttl and maxAgeSeconds)', async () => {
    const a = makeNode({ url: server.url }, { near: { maxAgeSeconds: 0.3 } });
    const b = makeNode({ url: server.url });
    await a.node.start();
    await b.node.start();
    try {
      await waitFor(() => b.node.cache.stats().near?.live === true, 5_000);
      db.version = 40;
      await a.node.request('user/get_user', { id: 7 });
      await raw.pexpire('cache:default/user/get_user:7', 250); // remote entry: 250 ms left
      await b.node.request('user/get_user', { id: 7 }); // fills b's tier for <= 250 ms
      db.version = 41;
      await new Promise((r) => setTimeout(r, 320));
      expect(await version(b.node, 7)).toBe(41);
      // a's own write: stored for maxAgeSeconds (0.3 s) although the ttl is 60 s.
      db.version = 42;
      await a.node.request('user/cache/delete', { key: 'get_user:8' });
      await a.node.request('user/get_user', { id: 8 });
      const before = await reads(server);
      await a.node.request('user/get_user', { id: 8 });
      expect(await reads(server)).toBe(before);
    } finally {
      await a.node.stop();
      await b.node.stop();
    }
  });

  it('a server that refuses CLIENT TRACKING: pub/sub of meshcache invalidations, said in logs and stats', async () => {
    const s2 = await startRedisServer();
    await s2.cli('ACL', 'SETUSER', 'default', '-client|tracking');
    const a = makeNode({ url: s2.url });
    const b = makeNode({ url: s2.url });
    await a.node.start();
    await b.node.start();
    try {
      await waitFor(
        () => b.node.cache.stats().near?.mode === 'pubsub' && b.node.cache.stats().near?.live,
        5_000,
      );
      expect(b.log.messages().some((m) => m.includes('falling back to a pub/sub channel'))).toBe(true);
      db.version = 50;
      expect(await version(a.node, 9)).toBe(50);
      expect(await version(b.node, 9)).toBe(50);
      db.version = 51;
      await a.node.request('user/cache/delete', { key: 'get_user:9' });
      await waitFor(async () => (await version(b.node, 9)) === 51, 2_000);
      // The pub/sub subscriber is pinged too: a silent Redis pauses the tier within the bound.
      const stoppedAt = performance.now();
      s2.pause();
      await waitFor(() => b.node.cache.stats().near?.live === false, 3_000);
      expect(performance.now() - stoppedAt).toBeLessThan(1_000);
      s2.resume();
      await waitFor(() => b.node.cache.stats().near?.live === true, 5_000);
    } finally {
      s2.resume();
      await a.node.stop();
      await b.node.stop();
      await s2.stop();
    }
  });
});

describe.skipIf(!available)('near tier on a 3-master Redis Cluster (tracking per master)', () => {
  let cluster: RedisCluster;
  let raw: Cluster;

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    raw = new Cluster(cluster.nodes, { lazyConnect: true });
    await raw.connect();
  }, 90_000);

  afterAll(async () => {
    raw?.disconnect();
    await cluster?.stop();
  });

  it('tracks every master: no reads on hits, a DEL on any master reaches every tier', async () => {
    const seeds = cluster.nodes.map((n) => `${n.host}:${n.port}`);
    const a = makeNode({ cluster: seeds });
    const b = makeNode({ cluster: seeds });
    await a.node.start();
    await b.node.start();
    try {
      await waitFor(() => [a, b].every((n) => n.node.cache.stats().near?.live === true), 10_000);
      expect(a.node.cache.stats().near?.mode).toBe('tracking');
      db.version = 60;
      const ids = Array.from({ length: 30 }, (_, i) => 100 + i); // keys on every master
      for (const id of ids) {
        expect(await version(a.node, id)).toBe(60);
        expect(await version(b.node, id)).toBe(60);
      }
      const gets = async () => {
        let n = 0;
        for (const s of cluster.servers) {
          const info = await s.cli('INFO', 'commandstats');
          for (const m of info.matchAll(/cmdstat_(get|mget):calls=(\d+)/g)) n += Number(m[2]);
        }
        return n;
      };
      // The notices of a's writes may reach b after b's first read began: that fill is refused
      // (the race rule), so one more pass fills b's tier; then no read reaches Redis.
      await new Promise((r) => setTimeout(r, 100));
      for (const id of ids) await b.node.request('user/get_user', { id });
      const before = await gets();
      for (const id of ids) await b.node.request('user/get_user', { id });
      for (const id of ids) await a.node.request('user/get_user', { id });
      expect(await gets()).toBe(before);
      db.version = 61;
      for (const id of ids) await raw.del(`cache:default/user/get_user:${id}`);
      for (const id of ids) {
        await waitFor(async () => (await version(a.node, id)) === 61, 2_000);
        await waitFor(async () => (await version(b.node, id)) === 61, 2_000);
      }
    } finally {
      await a.node.stop();
      await b.node.stop();
    }
  }, 60_000);
});
