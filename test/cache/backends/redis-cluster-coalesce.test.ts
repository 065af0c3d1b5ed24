/**
 * `coalesce: 'cluster'` on a real 3-master Redis Cluster shared by 3 nodes: the
 * lease, its renewal and its release (a Lua script each, one key, on the key's
 * master; the release's PUBLISH reaches the subscribers on every master).
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node, type RequestContext } from '../../../src/index.js';
import { RedisCluster, redisAvailable } from '../../helpers/redis-server.js';
import { sleep } from '../../helpers/stores.js';

const available = redisAvailable();

describe.skipIf(!available)("coalesce: 'cluster' on a 3-master Redis Cluster", () => {
  let cluster: RedisCluster;
  let raw: Cluster;
  const nodes: Node[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    raw = new Cluster(cluster.nodes, { lazyConnect: true });
    await raw.connect();
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    raw?.disconnect();
    await cluster?.stop();
  });

  /** `count` nodes on the cluster; the handler counts its calls, takes `handlerMs`; lease = `leaseMs`. */
  async function members(count: number, calls: { n: number }, handlerMs: number, leaseMs?: number) {
    const seeds = cluster.nodes.map((n) => `${n.host}:${n.port}`);
    const out: Node[] = [];
    for (let i = 0; i < count; i++) {
      const node = new Node({ env: {}, config: { cache: { backend: 'redis', redis: { cluster: seeds } } } });
      node.addService({
        name: 'report',
        actions: {
          build: {
            ...(leaseMs ? { timeout: leaseMs } : {}),
            cache: { ttl: 60, keys: ['id'], coalesce: 'cluster' },
            handler: async (_c: RequestContext, p: { id: number }) => {
              calls.n++;
              await sleep(handlerMs);
              return { id: p.id, by: i };
            },
          },
        },
      });
      await node.start();
      nodes.push(node);
      out.push(node);
    }
    return out;
  }

  const stopAll = async (some: Node[]) => {
    for (const n of some) {
      await n.stop();
      nodes.splice(nodes.indexOf(n), 1);
    }
  };

  it('3 nodes x 20 concurrent misses of one key: one handler call, lease released', async () => {
    const calls = { n: 0 };
    const three = await members(3, calls, 150);
    try {
      const results = await Promise.all(
        three.flatMap((node) => Array.from({ length: 20 }, () => node.request('report/build', { id: 1 }))),
      );
      expect(calls.n).toBe(1);
      expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
      expect(three.reduce((n, node) => n + node.cache.stats().coalesced, 0)).toBe(59);
      expect(await raw.exists('cache:default/$lease/report/build:1')).toBe(0);
    } finally {
      await stopAll(three);
    }
  }, 30_000);

  it('a handler slower than its lease still runs once (renewed on its master)', async () => {
    const calls = { n: 0 };
    const three = await members(3, calls, 900, 200);
    try {
      const pending = Promise.all(
        three.flatMap((node) =>
          Array.from({ length: 5 }, () => node.request('report/build', { id: 2 }, { timeout: 5000 })),
        ),
      );
      await sleep(600);
      expect(await raw.pttl('cache:default/$lease/report/build:2')).toBeGreaterThan(0);
      const results = await pending;
      expect(calls.n).toBe(1);
      expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    } finally {
      await stopAll(three);
    }
  }, 30_000);
});
