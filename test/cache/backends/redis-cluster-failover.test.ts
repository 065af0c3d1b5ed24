/**
 * The Redis backend on a Redis Cluster with replicas, with real processes: a
 * master killed under load and its replica promoted. No request fails, and
 * caching and near-tier tracking resume on the promoted replica.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '../../../src/index.js';
import { waitFor } from '../../helpers/log.js';
import {
  captureLogger,
  type RedisCluster,
  type RedisServer,
  redisAvailable,
  startRedisCluster,
} from '../../helpers/redis-server.js';

const available = redisAvailable();
const key = (id: number) => `cache:default/user/get_user:${id}`;

describe.skipIf(!available)('Redis Cluster with replicas: a master killed under load', () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    cluster = await startRedisCluster(3, 1);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('zero failed requests; caching and tracking resume on the promoted replica', async () => {
    // The master that is killed, and its replica (ROLE of a replica: slave, host, master port, ...).
    const roles = await Promise.all(cluster.servers.map(async (s) => (await s.cli('ROLE')).split('\n')));
    const victim = cluster.servers.find((_, i) => roles[i]![0] === 'master')!;
    const heir = cluster.servers.find(
      (_, i) => roles[i]![0] === 'slave' && roles[i]![2] === String(victim.port),
    )!;
    expect(heir).toBeDefined();
    const seeds = cluster.servers.filter((s) => s !== victim).map((s) => ({ host: s.host, port: s.port }));

    const calls = { get_user: 0 };
    const log = captureLogger('warn');
    const node = new Node({
      logger: log.logger,
      config: {
        cache: { backend: 'redis', redis: { cluster: seeds }, ttl: 60, failure: { cooldownMs: 300 } },
      },
    });
    node.addService({
      name: 'user',
      actions: {
        get_user: {
          cache: { enabled: true, ttl: 60, keys: ['id'] },
          handler: async (_ctx: unknown, p: { id: number }) => {
            calls.get_user++;
            return { id: p.id };
          },
        },
      },
    });
    await node.start();
    let ok = 0;
    let failed = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = w; !stop; i += 4) {
        try {
          const r = (await node.request('user/get_user', { id: i % 100 })) as { id: number };
          if (r.id !== i % 100) throw new Error('wrong result');
          ok++;
        } catch {
          failed++;
        }
        await new Promise((r) => setImmediate(r));
      }
    };
    try {
      await waitFor(() => node.cache.stats().near?.live === true, 10_000, 10);
      const t0 = performance.now();
      const workers = Array.from({ length: 4 }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 500));
      const flushesBefore = node.cache.stats().near!.flushes;
      await victim.kill();
      const killedAt = performance.now();
      const live = cluster.servers.filter((s) => s !== victim);
      await waitFor(
        async () => {
          if (!(await heir.cli('ROLE')).startsWith('master')) return false;
          const infos = await Promise.all(
            live.map((s: RedisServer) => s.cli('CLUSTER', 'INFO').catch(() => '')),
          );
          return infos.every((i) => i.includes('cluster_state:ok'));
        },
        30_000,
        50,
      );
      const promotedAt = performance.now();
      await waitFor(() => node.cache.stats().near?.live === true, 10_000, 10);
      const liveAt = performance.now();
      await new Promise((r) => setTimeout(r, Math.max(0, 6_000 - (performance.now() - t0))));
      stop = true;
      await Promise.all(workers);
      console.log(
        `cluster failover under load: ${ok} ok, ${failed} failed; replica promoted ` +
          `${(promotedAt - killedAt).toFixed(0)} ms after the kill, near tier live again ` +
          `${(liveAt - promotedAt).toFixed(0)} ms after that`,
      );
      expect(failed).toBe(0);
      expect(ok).toBeGreaterThan(100);
      expect(node.cache.stats().near!.flushes).toBeGreaterThan(flushesBefore);

      // Caching resumes on the promoted replica: new keys of its slots land there.
      const onHeir: number = await waitFor(
        async () => {
          for (let id = 7000; id < 7030; id++) {
            await node.request('user/get_user', { id });
            if ((await heir.cli('EXISTS', key(id))).startsWith('1')) return id;
          }
          return 0;
        },
        10_000,
        50,
      );

      // Tracking is on on the promoted replica: another client's delete there drops the near copy.
      await node.request('user/get_user', { id: onHeir });
      const nearHits = node.cache.stats().near!.hits;
      await node.request('user/get_user', { id: onHeir });
      expect(node.cache.stats().near!.hits).toBe(nearHits + 1);
      const before = calls.get_user;
      expect(await heir.cli('DEL', key(onHeir))).toMatch(/1/);
      await waitFor(
        async () => {
          await node.request('user/get_user', { id: onHeir });
          return calls.get_user > before;
        },
        2_000,
        10,
      );
    } finally {
      stop = true;
      await node.stop();
    }
  }, 90_000);
});
