/**
 * RedisBackend against a real 3-master Redis Cluster on loopback ports.
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../../src/cache/backends/redis.js';
import { captureLogger, RedisCluster, redisAvailable } from '../../helpers/redis-server.js';

const available = redisAvailable();

async function eventually(check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!available)('RedisBackend on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster;
  let backend: RedisBackend;
  let raw: Cluster;
  const log = captureLogger();

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    raw = new Cluster(cluster.nodes, { lazyConnect: true });
    await raw.connect();
    backend = new RedisBackend({ cluster: cluster.nodes.map((n) => `${n.host}:${n.port}`), scanCount: 100 });
    await backend.open({ networkId: 'default', logger: log.logger });
  }, 90_000);

  afterAll(async () => {
    await backend?.close();
    raw?.disconnect();
    await cluster?.stop();
  });

  async function flush(): Promise<void> {
    await Promise.all(raw.nodes('master').map((n) => n.flushall()));
  }

  it('spreads keys over every master and reads them back, also concurrently', async () => {
    expect(backend.isCluster).toBe(true);
    expect(backend.state).toBe('up');
    for (let i = 0; i < 300; i++)
      await backend.set(`cache:default/user/get_user:${i}`, { id: i, at: new Date(i) }, 60);
    const sizes = await cluster.dbsizes();
    expect(sizes).toHaveLength(3);
    for (const n of sizes) expect(n).toBeGreaterThan(50);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(300);
    const got = await Promise.all(
      Array.from({ length: 300 }, (_, i) => backend.get(`cache:default/user/get_user:${i}`)),
    );
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => ({ id: i, at: new Date(i) })));
    expect(await backend.get('cache:default/user/absent')).toBeUndefined();
    expect(await raw.pttl('cache:default/user/get_user:7')).toBeGreaterThan(50_000);
    expect(await backend.delete('cache:default/user/get_user:7')).toBe(true);
    expect(await backend.delete('cache:default/user/get_user:7')).toBe(false);
    await flush();
  });

  it('clears one prefix on every master and leaves the others', async () => {
    for (let i = 0; i < 200; i++) {
      await raw.set(`cache:default/user/get_user:${i}`, '1');
      await raw.set(`cache:default/order/get_order:${i}`, '1');
    }
    const before = await cluster.dbsizes();
    expect(await backend.clear('cache:default/user/')).toBe(200);
    const after = await cluster.dbsizes();
    expect(after.reduce((a, b) => a + b, 0)).toBe(200);
    // Every master lost keys: the SCAN ran on each of them.
    for (let i = 0; i < 3; i++) expect(after[i]).toBeLessThan(before[i]);
    expect(await raw.exists('cache:default/order/get_order:5')).toBe(1);
    const listed: string[] = [];
    for await (const k of backend.keys('cache:default/')) listed.push(k);
    expect(listed).toHaveLength(200);
    expect(listed.every((k) => k.startsWith('cache:default/order/'))).toBe(true);
    await flush();
  });

  it('revokes by pattern across all masters', async () => {
    const pipelines = [];
    for (let i = 0; i < 2000; i++) {
      pipelines.push(raw.set(`cache:default/user/get_user:${i}`, '1'));
      pipelines.push(raw.set(`cache:default/user/get_profile:${i}`, '1'));
      pipelines.push(raw.set(`cache:other/user/get_user:${i}`, '1'));
    }
    await Promise.all(pipelines);
    expect(await backend.revoke('cache:default/user/', 'get_user:1*')).toBe(1111);
    expect(await backend.revoke('cache:default/user/', 'get_user:?')).toBe(9); // 0, 2..9 (1 went with 1*)
    expect(await backend.revoke('cache:default/user/', 'get_user:*')).toBe(2000 - 1111 - 9);
    expect((await cluster.dbsizes()).reduce((a, b) => a + b, 0)).toBe(4000);
    expect(await raw.exists('cache:other/user/get_user:1')).toBe(1);
    expect(await raw.exists('cache:default/user/get_profile:1')).toBe(1);
    await flush();
  });

  it('fails fast for the slots of a dead master and recovers when it returns', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `cache:default/user/k${i}`);
    for (const k of keys) await backend.set(k, k, 0);
    const victim = cluster.servers[1];
    await victim.kill();
    const t0 = performance.now();
    const results = await Promise.allSettled(keys.map((k) => backend.get(k)));
    expect(performance.now() - t0).toBeLessThan(5000);
    const failed = results.filter((r) => r.status === 'rejected').length;
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(failed).toBeGreaterThan(0); // the dead master's share
    expect(ok.length).toBeGreaterThan(0); // the live masters still serve
    await victim.start(); // same port, same nodes.conf: same node id and slots
    await cluster.waitOk();
    await eventually(async () => {
      const again = await Promise.allSettled(keys.map((k) => backend.set(k, 'back', 0)));
      return again.every((r) => r.status === 'fulfilled');
    });
    expect(await backend.get(keys[0])).toBe('back');
  }, 60_000);

  it('survives the whole cluster going down and coming back, logging each transition once', async () => {
    await backend.set('whole:1', 'before', 0);
    const lostBefore = log.records.filter((r) => r.msg.startsWith('Redis connection lost')).length;
    for (const s of cluster.servers) await s.kill();
    const down = await Promise.allSettled([backend.get('whole:1'), backend.set('whole:2', 1, 0)]);
    expect(down.every((r) => r.status === 'rejected')).toBe(true);
    await eventually(() => backend.state === 'down');
    for (const s of cluster.servers) await s.start();
    await cluster.waitOk();
    await eventually(async () => {
      try {
        await backend.set('whole:1', 'after', 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(await backend.get('whole:1')).toBe('after');
    expect(backend.state).toBe('up');
    expect(log.records.filter((r) => r.msg.startsWith('Redis connection lost')).length - lostBefore).toBe(1);
  }, 60_000);
});
