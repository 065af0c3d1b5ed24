/**
 * Tags on a real 3-master Redis Cluster shared by two nodes (the records are read
 * in a second round trip there, see src/cache/backends/redis-tags.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node, type RequestContext } from '../../src/index.js';
import { RedisCluster, redisAvailable } from '../helpers/redis-server.js';

const available = redisAvailable();

describe.skipIf(!available)('tags on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('invalidateTags on one node makes the other miss the tagged entries only', async () => {
    const calls = { tagged: 0, untagged: 0 };
    const make = () => {
      const node = new Node({
        env: {},
        config: {
          cache: { backend: 'redis', redis: { cluster: cluster.nodes.map((n) => `${n.host}:${n.port}`) } },
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
    const a = make();
    const b = make();
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
});
