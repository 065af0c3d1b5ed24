/**
 * `coalesce: 'cluster'` on the DHT: three real meshcache nodes on loopback
 * (libp2p), the lease kept by the lease key's first holder. 20 concurrent
 * misses of one key on each node run the handler once in the cluster; a
 * holder whose handler hangs (as good as dead) is taken over once its lease
 * (the action timeout) expires, and no waiter outlives its deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node, type RequestContext } from '../../../src/index.js';
import { LeaseTable } from '../../../src/network/leases.js';
import { testLogger, waitFor, waitForPeers } from '../../helpers/p2p.js';
import { sleep } from '../../helpers/stores.js';

describe("coalesce: 'cluster' on the DHT, three nodes", () => {
  const nodes: Node[] = [];
  const calls = { n: 0 };
  let handlerMs = 150;
  /** Node index -> what its handler waits for before answering. */
  const gates = new Map<number, () => Promise<void>>();

  function member(i: number, bootstrap?: string[]): Node {
    const node = new Node({
      logger: testLogger(),
      network: { id: 'dht-coalesce', ...(bootstrap ? { bootstrap } : {}) },
      config: { cache: { backend: 'dht', replication: 2, near: { enabled: false } } },
    });
    node.addService({
      name: 'report',
      actions: {
        build: {
          timeout: 2500, // the lease length: generous, so that a loaded machine does not time requests out
          cache: { ttl: 60, keys: ['id'], coalesce: 'cluster' },
          handler: async (_c: RequestContext, p: { id: number }) => {
            calls.n++;
            await sleep(handlerMs);
            await gates.get(i)?.();
            return { id: p.id, by: i };
          },
        },
      },
    });
    return node;
  }

  beforeAll(async () => {
    const a = member(0);
    await a.start();
    nodes.push(a);
    const bootstrap = a.network!.addresses();
    const rest = [member(1, bootstrap), member(2, bootstrap)];
    await Promise.all(rest.map((n) => n.start()));
    nodes.push(...rest);
    await Promise.all(nodes.map((n) => waitForPeers(n.network!, 2, 30_000)));
    // Past oneHop.settleMs: reads take the one-hop path (a kad lookup of a missing key is much slower).
    await sleep(5_100);
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
  });

  it('3 nodes x 20 concurrent misses of one key: one handler call', async () => {
    calls.n = 0;
    const results = await Promise.all(
      nodes.flatMap((node) => Array.from({ length: 20 }, () => node.request('report/build', { id: 1 }))),
    );
    expect(calls.n).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    // Released at its holder: nobody keeps a lease.
    expect(nodes.reduce((n, node) => n + node.network!.leases.table.size, 0)).toBe(0);
  });

  it('a holder whose handler hangs: another node takes over once the lease expires', async () => {
    calls.n = 0;
    gates.set(0, () => new Promise<void>(() => {}));
    try {
      const fromA = nodes[0]!.request('report/build', { id: 2 }).catch((e: unknown) => e);
      await waitFor(() => calls.n === 1, 2000, "A's handler started (it holds the lease)");
      const t = Date.now();
      const fromB = await nodes[1]!.request('report/build', { id: 2 }, { timeout: 10_000 });
      expect(fromB).toEqual({ id: 2, by: 1 });
      expect(calls.n).toBe(2);
      expect(Date.now() - t).toBeGreaterThanOrEqual(1000); // it waited for the 2.5 s lease
      expect(await fromA).toMatchObject({ code: 'TIMEOUT' });
    } finally {
      gates.delete(0);
    }
  });

  it('a waiter whose deadline comes first runs the handler itself rather than fail', async () => {
    const key = 'cache:dht-coalesce/$lease/report/build:3';
    const holder = nodes.find((n) => n.network!.peerId === nodes[0]!.network!.leases.holderOf(key))!;
    holder.network!.leases.table.acquire(key, 'dead-node', 5000);
    handlerMs = 0;
    const t = Date.now();
    // A deadline with room for the handler on a loaded machine, and far short of the 5 s lease.
    expect(await nodes[2]!.request('report/build', { id: 3 }, { timeout: 1500 })).toMatchObject({ id: 3 });
    expect(Date.now() - t).toBeLessThan(3000);
  });
});

describe('LeaseTable', () => {
  it('grants one token at a time, renews only its own, wakes waiters on release and expiry', async () => {
    const t = new LeaseTable();
    expect(t.acquire('k', 'a', 1000)).toBe(true);
    expect(t.acquire('k', 'b', 1000)).toBe(false);
    expect(t.renew('k', 'b', 1000)).toBe(false);
    expect(t.renew('k', 'a', 1000)).toBe(true);
    const woke = t.wait('k', 5000).then(() => 'woke');
    t.release('k', 'b'); // not b's: still held, but waiters are told to look again
    expect(await woke).toBe('woke');
    expect(t.acquire('k', 'b', 1000)).toBe(false);
    t.release('k', 'a');
    expect(t.acquire('k', 'b', 50)).toBe(true);
    const start = Date.now();
    await t.wait('k', 5000); // the 50 ms lease expires
    expect(Date.now() - start).toBeLessThan(1000);
    expect(t.acquire('k', 'c', 1000)).toBe(true);
    t.clear();
    expect(t.size).toBe(0);
  });
});
