/**
 * Tagged entries in the near tier in front of a real redis-server: hits answered
 * in process (no Redis read), `invalidateTags` and `<service>/cache/invalidate`
 * on one node reaching the other node's tier (tracking sees the record's write;
 * the pub/sub fallback carries a 'tags' notice), the read/invalidate race on a
 * tag record, and a malformed pub/sub notice.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../../src/cache/backends/redis.js';
import { Node } from '../../../src/index.js';
import { waitFor } from '../../helpers/log.js';
import { type RedisServer, redisAvailable, startRedisServer } from '../../helpers/redis-server.js';

const available = redisAvailable();
const db = { version: 1 };

function makeNode(url: string, backends?: Record<string, RedisBackend>): Node {
  const node = new Node({
    env: {},
    backends,
    config: { cache: { backend: 'redis', redis: backends ? {} : { url }, ttl: 60 } },
  });
  const handler = async (_ctx: unknown, p: { id: number }) => ({ id: p.id, version: db.version });
  node.addService({
    name: 'user',
    actions: {
      get_user: { cache: { keys: ['id'], tags: ['user:{id}'] }, handler },
      untagged: { cache: { keys: ['id'] }, handler },
    },
  });
  node.addService({
    name: 'order',
    actions: { list: { cache: { keys: ['id'], tags: ['user:{id}'] }, handler } },
  });
  return node;
}

/** Reads Redis has answered so far (GET, MGET, and the tagged read script). */
async function reads(server: RedisServer): Promise<number> {
  const info = await server.cli('INFO', 'commandstats');
  let n = 0;
  for (const m of info.matchAll(/cmdstat_(get|mget|evalsha|eval):calls=(\d+)/g)) n += Number(m[2]);
  return n;
}

const version = async (node: Node, path: string, id: number) =>
  ((await node.request(path, { id })) as { version: number }).version;

async function startPair(url: string): Promise<[Node, Node]> {
  const a = makeNode(url);
  const b = makeNode(url);
  await a.start();
  await b.start();
  await waitFor(() => [a, b].every((n) => n.cache.stats().near?.live === true), 5_000);
  return [a, b];
}

describe.skipIf(!available)('tagged entries in the near tier (Redis)', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a tagged hit is answered from the near tier: no Redis read', async () => {
    const [a, b] = await startPair(server.url);
    try {
      db.version = 1;
      await a.request('user/get_user', { id: 1 }); // miss: handler, SET (no near copy of its own write)
      await a.request('user/get_user', { id: 1 }); // first hit: the script, which fills the tier
      await b.request('user/get_user', { id: 1 }); // B's first read: the script, fills B's tier
      const before = await reads(server);
      const nearHits = b.cache.stats().near!.hits;
      for (let i = 0; i < 200; i++) {
        expect(await version(a, 'user/get_user', 1)).toBe(1);
        expect(await version(b, 'user/get_user', 1)).toBe(1);
      }
      expect(await reads(server)).toBe(before);
      expect(b.cache.stats().near!.hits - nearHits).toBe(200);
      expect(b.cache.stats().tagMisses).toBe(0);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('invalidateTags on A: A at once, B within the propagation time; untagged copies stay', async () => {
    const [a, b] = await startPair(server.url);
    try {
      db.version = 10;
      for (const node of [a, b, a, b]) {
        await node.request('user/get_user', { id: 2 });
        await node.request('user/untagged', { id: 2 });
        await node.request('order/list', { id: 2 });
      }
      const before = await reads(server);
      expect(await version(b, 'user/get_user', 2)).toBe(10); // from B's tier
      expect(await reads(server)).toBe(before);
      db.version = 11;
      const t0 = performance.now();
      await a.cache.invalidateTags(['user:2']);
      expect(await version(a, 'user/get_user', 2)).toBe(11);
      expect(await version(a, 'order/list', 2)).toBe(11);
      await waitFor(async () => (await version(b, 'user/get_user', 2)) === 11, 2_000);
      const propagationMs = performance.now() - t0;
      expect(propagationMs).toBeLessThan(2_000);
      expect(await version(b, 'order/list', 2)).toBe(11);
      expect(await version(b, 'user/untagged', 2)).toBe(10); // carries no tag: still cached
      // Service-scoped: order's copies go on B, user's stay.
      for (const node of [a, b]) await node.request('user/get_user', { id: 2 }); // refill the tiers
      await b.request('user/get_user', { id: 2 });
      db.version = 12;
      await a.request('order/cache/invalidate', { tags: ['user:2'] });
      await waitFor(async () => (await version(b, 'order/list', 2)) === 12, 2_000);
      expect(await version(b, 'user/get_user', 2)).toBe(11);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it("a refresh of a tagged entry: the refreshing node's old near copy goes, the other's too", async () => {
    const [a, b] = await startPair(server.url);
    try {
      db.version = 40;
      for (const node of [a, a, b]) await node.request('user/get_user', { id: 5 }); // both tiers filled
      db.version = 41;
      await a.request('user/get_user', { id: 5 }, { cache: 'refresh' });
      expect(await version(a, 'user/get_user', 5)).toBe(41);
      await waitFor(async () => (await version(b, 'user/get_user', 5)) === 41, 2_000);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('a tagged read in flight when its record is invalidated does not leave a copy', async () => {
    const rb = new RedisBackend({ url: server.url });
    let gate: Promise<void> | undefined;
    const read = rb.getTagged.bind(rb);
    rb.getTagged = async (key: string) => {
      const answer = await read(key);
      await gate;
      return answer;
    };
    const a = makeNode(server.url);
    const b = makeNode(server.url, { redis: rb });
    await a.start();
    await b.start();
    try {
      await waitFor(() => b.cache.stats().near?.live === true, 5_000);
      db.version = 20;
      const quiet = b.cache.stats().near!.invalidations;
      await a.request('user/get_user', { id: 3 });
      // The notice of A's write reaches B first, so that only the record's notice can refuse the fill.
      await waitFor(() => b.cache.stats().near!.invalidations > quiet, 2_000);
      let open!: () => void;
      gate = new Promise((r) => {
        open = r;
      });
      const inflight = b.request('user/get_user', { id: 3 }); // read valid at version 20, held
      await new Promise((r) => setTimeout(r, 20));
      const seen = b.cache.stats().near!.invalidations;
      db.version = 21;
      await a.cache.invalidateTags(['user:3']);
      await waitFor(() => b.cache.stats().near!.invalidations > seen, 2_000); // the record's notice
      open();
      gate = undefined;
      expect(((await inflight) as { version: number }).version).toBe(20); // read before the invalidation
      expect(await version(b, 'user/get_user', 3)).toBe(21); // but not kept in the tier
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('pub/sub fallback: a tags notice reaches the other tier; a malformed notice flushes it', async () => {
    const s2 = await startRedisServer();
    await s2.cli('ACL', 'SETUSER', 'default', '-client|tracking');
    const raw = new Redis({ host: s2.host, port: s2.port });
    const a = makeNode(s2.url);
    const b = makeNode(s2.url);
    await a.start();
    await b.start();
    try {
      await waitFor(() => [a, b].every((n) => n.cache.stats().near?.mode === 'pubsub'), 5_000);
      await waitFor(() => [a, b].every((n) => n.cache.stats().near?.live === true), 5_000);
      db.version = 30;
      for (const node of [a, b, b]) await node.request('user/get_user', { id: 4 });
      const before = await reads(s2);
      expect(await version(b, 'user/get_user', 4)).toBe(30);
      expect(await reads(s2)).toBe(before); // a near hit
      db.version = 31;
      await a.cache.invalidateTags(['user:4']);
      await waitFor(async () => (await version(b, 'user/get_user', 4)) === 31, 2_000);
      // Anyone may publish on the channel: a notice that is not one of ours flushes the tier.
      await b.request('user/get_user', { id: 4 });
      expect(b.cache.stats().near!.entries).toBeGreaterThan(0);
      const flushes = b.cache.stats().near!.flushes;
      const channel = 'cache:default/__meshcache:near';
      await raw.publish(channel, JSON.stringify({ from: 'x', op: 'tags', keys: [1, 2] }));
      await waitFor(() => b.cache.stats().near!.flushes > flushes, 2_000);
      expect(b.cache.stats().near!.entries).toBe(0);
    } finally {
      raw.disconnect();
      await a.stop();
      await b.stop();
      await s2.stop();
    }
  });
});
