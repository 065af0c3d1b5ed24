/**
 * `coalesce: 'cluster'` on a real redis-server shared by 3 nodes: 20
 * concurrent misses of one key on each node run the handler once in the
 * cluster; a lease holder that dies (its lease only expires) is taken over;
 * a waiter never outlives its deadline; a live holder renews its lease while
 * its handler runs, and stops when the handler ends or its node stops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node, type RequestContext } from '../../../src/index.js';
import { waitFor } from '../../helpers/log.js';
import { type RedisServer, redisAvailable, startRedisServer } from '../../helpers/redis-server.js';
import { sleep } from '../../helpers/stores.js';

const available = redisAvailable();

describe.skipIf(!available)("coalesce: 'cluster' on Redis", () => {
  let server: RedisServer;
  const nodes: Node[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await server?.stop();
  });

  async function cluster(
    count: number,
    calls: { n: number },
    handlerMs: number,
    timeout?: number,
    gate?: (node: number) => Promise<void>,
  ) {
    const out: Node[] = [];
    for (let i = 0; i < count; i++) {
      const node = new Node({ env: {}, config: { cache: { backend: 'redis', redis: { url: server.url } } } });
      node.addService({
        name: 'report',
        actions: {
          build: {
            ...(timeout ? { timeout } : {}),
            cache: { ttl: 60, keys: ['id'], coalesce: 'cluster' },
            handler: async (_c: RequestContext, p: { id: number }) => {
              calls.n++;
              await sleep(handlerMs);
              if (gate) await gate(i);
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

  it('3 nodes x 20 concurrent misses of one key: one handler call', async () => {
    await server.cli('FLUSHALL');
    const calls = { n: 0 };
    const three = await cluster(3, calls, 150);
    const results = await Promise.all(
      three.flatMap((node) => Array.from({ length: 20 }, () => node.request('report/build', { id: 1 }))),
    );
    expect(calls.n).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    const waited = three.reduce((n, node) => n + node.cache.stats().coalesced, 0);
    expect(waited).toBe(59); // 19 local joins on each node, and 2 nodes that waited on the lease
    expect(await server.cli('EXISTS', 'cache:default/$lease/report/build:1')).toMatch(/0/); // released
  });

  it('a lease holder that died: another node takes over once its lease expires', async () => {
    await server.cli('FLUSHALL');
    const calls = { n: 0 };
    const two = await cluster(2, calls, 20);
    // A holder took the lease for 400 ms, then died: no value, no release message.
    await server.cli('SET', 'cache:default/$lease/report/build:2', 'dead-node', 'PX', '400');
    const t = Date.now();
    const results = await Promise.all(
      two.flatMap((node) => Array.from({ length: 5 }, () => node.request('report/build', { id: 2 }))),
    );
    const took = Date.now() - t;
    expect(calls.n).toBe(1);
    expect(results.every((r) => (r as { id: number }).id === 2)).toBe(true);
    expect(took).toBeGreaterThanOrEqual(350);
    expect(took).toBeLessThan(1500);
  });

  it('a holder killed mid-handler (hung, lease = action timeout): the others take over; no waiter outlives its deadline', async () => {
    await server.cli('FLUSHALL');
    const calls = { n: 0 };
    // Node A's handler never answers (as good as a dead process); its lease lives 300 ms (the action timeout).
    const [a, b] = await cluster(2, calls, 0, 300, (i) =>
      i === 0 ? new Promise<void>(() => {}) : Promise.resolve(),
    );
    const fromA = a.request('report/build', { id: 3 }).catch((e: unknown) => e);
    await sleep(30);
    expect(calls.n).toBe(1);
    const t = Date.now();
    const fromB = await b.request('report/build', { id: 3 }, { timeout: 3000 });
    expect(fromB).toEqual({ id: 3, by: 1 });
    expect(calls.n).toBe(2);
    expect(Date.now() - t).toBeGreaterThanOrEqual(200); // waited for the lease to expire
    expect(Date.now() - t).toBeLessThan(1500);
    expect(await fromA).toMatchObject({ code: 'TIMEOUT' });
    // A waiter whose deadline comes first runs the handler itself rather than fail.
    await server.cli('SET', 'cache:default/$lease/report/build:4', 'dead-node', 'PX', '5000');
    const t2 = Date.now();
    expect(await b.request('report/build', { id: 4 }, { timeout: 200 })).toMatchObject({ id: 4 });
    expect(Date.now() - t2).toBeLessThan(300);
  });

  it('a handler slower than its lease runs once: the holder renews the lease while it runs', async () => {
    await server.cli('FLUSHALL');
    const calls = { n: 0 };
    // Lease 200 ms (the action's timeout); the requests allow 5 s; the handler takes 900 ms.
    const three = await cluster(3, calls, 900, 200);
    const lease = 'cache:default/$lease/report/build:5';
    const pending = Promise.all(
      three.flatMap((node) =>
        Array.from({ length: 5 }, () => node.request('report/build', { id: 5 }, { timeout: 5000 })),
      ),
    );
    await sleep(600); // three lease times: without renewal another node would have taken it
    expect(Number(await server.cli('PTTL', lease))).toBeGreaterThan(0);
    const results = await pending;
    expect(calls.n).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(await server.cli('EXISTS', lease)).toMatch(/0/); // released once the handler ended
  });

  it('renewal stops with the node: a hung holder whose node stopped loses its lease within the lease time', async () => {
    await server.cli('FLUSHALL');
    const calls = { n: 0 };
    const [a] = await cluster(1, calls, 0, 200, () => new Promise<void>(() => {}));
    const lease = 'cache:default/$lease/report/build:6';
    void a.request('report/build', { id: 6 }, { timeout: 60_000 }).catch(() => {});
    await sleep(500);
    expect(Number(await server.cli('PTTL', lease))).toBeGreaterThan(0); // renewed past 200 ms
    await a.stop();
    nodes.splice(nodes.indexOf(a), 1);
    await sleep(350);
    expect(await server.cli('EXISTS', lease)).toMatch(/0/);
  });

  it('renewal stops at the holder request deadline (its caller has its TIMEOUT by then)', async () => {
    await server.cli('FLUSHALL');
    const calls = { n: 0 };
    const [a] = await cluster(1, calls, 0, 150, () => new Promise<void>(() => {}));
    const lease = 'cache:default/$lease/report/build:7';
    const t = Date.now();
    const answer = a.request('report/build', { id: 7 }, { timeout: 400 }).catch((e) => e);
    await sleep(300);
    expect(Number(await server.cli('PTTL', lease))).toBeGreaterThan(0); // renewed past 150 ms
    expect(await answer).toMatchObject({ code: 'TIMEOUT' });
    await waitFor(async () => (await server.cli('EXISTS', lease)).includes('0'), 2_000);
    expect(Date.now() - t).toBeGreaterThanOrEqual(380); // renewed up to the deadline...
    expect(Date.now() - t).toBeLessThan(900); // ...not past it
  });

  it('renewal extends only its own token: a lease taken over by another holder is left to expire', async () => {
    await server.cli('FLUSHALL');
    const calls = { n: 0 };
    const [a] = await cluster(1, calls, 0, 200, () => new Promise<void>(() => {}));
    const lease = 'cache:default/$lease/report/build:8';
    void a.request('report/build', { id: 8 }, { timeout: 60_000 }).catch(() => {});
    await sleep(50);
    await server.cli('SET', lease, 'someone-else', 'PX', '300'); // as if ours had expired and been retaken
    await sleep(500); // more than two renewal periods
    expect(await server.cli('EXISTS', lease)).toMatch(/0/); // our script never extended their lease
  });
});
