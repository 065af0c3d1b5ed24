/**
 * Tags on a real 3-master Redis Cluster shared by two nodes (the records are read
 * in a second round trip there, see src/cache/backends/redis-tags.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node, type RequestContext } from '../../../src/index.js';
import { waitFor } from '../../helpers/log.js';
import { RedisCluster, redisAvailable } from '../../helpers/redis-server.js';

const available = redisAvailable();

describe.skipIf(!available)('tags on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const make = (calls: { tagged: number; untagged: number }, near: boolean) => {
    const node = new Node({
      env: {},
      config: {
        cache: {
          backend: 'redis',
          redis: { cluster: cluster.nodes.map((n) => `${n.host}:${n.port}`) },
          near: { enabled: near },
        },
      },
    });
    node.addService({
      name: 'user',
      actions: {
        tagged: {
          cache: { ttl: 60, keys: ['id'], tags: ['user:{id}'] },
          handler: (_c: RequestContext, p: { id: number }) => ({ id: p.id, n: ++calls.tagged }),
        },
        untagged: {
          cache: { ttl: 60, keys: ['id'] },
          handler: (_c: RequestContext, p: { id: number }) => ({ id: p.id, n: ++calls.untagged }),
        },
      },
    });
    return node;
  };

  it('invalidateTags on one node makes the other miss the tagged entries only (no near tier: no message needed)', async () => {
    const calls = { tagged: 0, untagged: 0 };
    const a = make(calls, false);
    const b = make(calls, false);
    await a.start();
    await b.start();
    try {
      for (const id of [1, 2, 3]) {
        await a.request('user/tagged', { id });
        await a.request('user/untagged', { id });
        await b.request('user/tagged', { id });
        await b.request('user/untagged', { id });
      }
      expect(calls).toEqual({ tagged: 3, untagged: 3 });
      await a.cache.invalidateTags(['user:2']);
      for (const id of [1, 2, 3]) {
        await b.request('user/tagged', { id });
        await b.request('user/untagged', { id });
      }
      expect(calls).toEqual({ tagged: 4, untagged: 3 });
      expect(b.cache.stats().tagMisses).toBe(1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('with near tiers: tagged hits answered in process, invalidated on the other node within the propagation time', async () => {
    const calls = { tagged: 0, untagged: 0 };
    const a = make(calls, true);
    const b = make(calls, true);
    await a.start();
    await b.start();
    try {
      await waitFor(() => [a, b].every((n) => n.cache.stats().near?.live === true), 10_000);
      const ids = Array.from({ length: 12 }, (_, i) => i + 10); // records and entries on every master
      for (const id of ids) await a.request('user/tagged', { id });
      for (const id of ids) await b.request('user/tagged', { id }); // B's reads fill its tier
      await new Promise((r) => setTimeout(r, 100));
      for (const id of ids) await b.request('user/tagged', { id }); // a fill refused by a late notice of A's write
      const hits = b.cache.stats().near!.hits;
      for (const id of ids) await b.request('user/tagged', { id });
      expect(b.cache.stats().near!.hits - hits).toBe(ids.length);
      const before = calls.tagged;
      await a.cache.invalidateTags(ids.map((id) => `user:${id}`));
      await waitFor(async () => {
        for (const id of ids) await b.request('user/tagged', { id });
        return calls.tagged === before + ids.length; // every id recomputed once, by B (A did not ask)
      }, 2_000);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
