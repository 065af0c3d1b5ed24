/**
 * Tags on the DHT backend, through real meshcache nodes on loopback (near tier
 * off, so every hit reads the DHT): the truth is in the tag records stored in
 * the DHT, so `invalidateTags` on one node is honoured by every node, also by
 * one that received no broadcast at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhtBackend } from '../../../src/cache/backends/dht/index.js';
import { Node } from '../../../src/index.js';
import type { MeshNetwork } from '../../../src/network/index.js';
import { testLogger, waitFor, waitForPeers } from '../../helpers/p2p.js';

interface Member {
  node: Node;
  dht: DhtBackend;
  calls: { user: number; order: number };
}

function member(network: { id: string; bootstrap?: string[] }, near = false): Member {
  const calls = { user: 0, order: 0 };
  const dht = new DhtBackend({ replication: 2 });
  const node = new Node({
    logger: testLogger(),
    network,
    backends: { dht },
    config: {
      cache: {
        enabled: true,
        backend: 'dht',
        ttl: 60,
        near: { enabled: near },
        failure: { opTimeoutMs: 3000 },
      },
    },
  });
  node.addService({
    name: 'user',
    actions: {
      get: {
        cache: { ttl: 60, keys: ['id'], tags: ['user:{id}'] },
        handler: async (_ctx: unknown, p: { id: number }) => {
          calls.user++;
          return { id: p.id, v: calls.user };
        },
      },
    },
  });
  node.addService({
    name: 'order',
    actions: {
      list: {
        cache: { ttl: 60, keys: ['user'], tags: ['user:{user}'] },
        handler: async (_ctx: unknown, p: { user: number }) => {
          calls.order++;
          return [`order of ${p.user}`, calls.order];
        },
      },
    },
  });
  return { node, dht, calls };
}

const net = (m: Member): MeshNetwork => m.node.network!;

describe('tags on the DHT, three nodes', () => {
  const members: Member[] = [];
  beforeAll(async () => {
    const a = member({ id: 'dht-tags' });
    members.push(a);
    await a.node.start();
    const bootstrap = net(a).addresses();
    const rest = [member({ id: 'dht-tags', bootstrap }), member({ id: 'dht-tags', bootstrap })];
    members.push(...rest);
    await Promise.all(rest.map((m) => m.node.start()));
    await Promise.all(members.map((m) => waitForPeers(net(m), 2, 30_000)));
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(members.map((m) => m.node.stop()));
  });

  it('a tagged entry computed on A is a hit on B and C; invalidateTags on C reaches both services on every node', async () => {
    const [a, b, c] = members as [Member, Member, Member];
    await a.node.request('user/get', { id: 1 });
    await a.node.request('order/list', { user: 1 });
    await a.node.request('order/list', { user: 2 });
    expect(await b.node.request('user/get', { id: 1 })).toEqual({ id: 1, v: 1 });
    expect(await c.node.request('order/list', { user: 1 })).toEqual(['order of 1', 1]);
    expect(b.calls.user + c.calls.order).toBe(0);

    await c.node.cache.invalidateTags(['user:1']);
    // Both services' entries tagged user:1 are misses everywhere; user:2 is untouched.
    expect(await b.node.request('user/get', { id: 1 })).toEqual({ id: 1, v: 1 }); // b's handler ran: v from b's counter
    expect(b.calls.user).toBe(1);
    expect(await a.node.request('order/list', { user: 1 })).toEqual(['order of 1', 3]);
    expect(a.calls.order).toBe(3);
    expect(await b.node.request('order/list', { user: 2 })).toEqual(['order of 2', 2]);
    expect(b.calls.order).toBe(0);
    // The recomputed entry is cached again.
    expect(await c.node.request('user/get', { id: 1 })).toEqual({ id: 1, v: 1 });
    expect(c.calls.user).toBe(0);
  });

  it('a node that received no broadcast still honours the tag record in the DHT', async () => {
    const [a, b] = members as [Member, Member];
    await a.node.request('user/get', { id: 7 });
    const before = b.calls.user;
    expect(await b.node.request('user/get', { id: 7 })).toMatchObject({ id: 7 });
    expect(b.calls.user).toBe(before);
    // The tag record written straight into the DHT through A's backend: no notice to anyone.
    await a.dht.invalidateTags(['cache:dht-tags/$tags/*/user:7'], 60);
    await b.node.request('user/get', { id: 7 });
    expect(b.calls.user).toBe(before + 1);
  });

  it('service-level invalidation (user/cache/invalidate) leaves the other service alone', async () => {
    const [a, b] = members as [Member, Member];
    await a.node.request('user/get', { id: 3 });
    await a.node.request('order/list', { user: 3 });
    const result = await b.node.request('user/cache/invalidate', { tags: ['user:3'] });
    expect(result).toBeTypeOf('object');
    const users = a.calls.user;
    const orders = a.calls.order;
    await a.node.request('user/get', { id: 3 });
    await a.node.request('order/list', { user: 3 });
    expect(a.calls.user).toBe(users + 1);
    expect(a.calls.order).toBe(orders);
  });
});

describe('tags on the DHT with the near tier on, two nodes', () => {
  const members: Member[] = [];
  beforeAll(async () => {
    const a = member({ id: 'dht-tags-near' }, true);
    members.push(a);
    await a.node.start();
    const b = member({ id: 'dht-tags-near', bootstrap: net(a).addresses() }, true);
    members.push(b);
    await b.node.start();
    await Promise.all(members.map((m) => waitForPeers(net(m), 1, 30_000)));
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(members.map((m) => m.node.stop()));
  });

  it("a tagged hit comes from B's near tier, and invalidateTags on A drops that copy", async () => {
    const [a, b] = members as [Member, Member];
    const received = () => b.node.cache.stats().near?.received ?? 0;
    const before = received();
    await a.node.request('user/get', { id: 5 });
    // A's write is announced (bus mode); once B has it, a copy B fills stays.
    await waitFor(() => received() > before, 5_000, "A's write notice at B");
    await b.node.request('user/get', { id: 5 }); // a DHT hit: fills b's near tier
    const reads = b.dht.stats().dhtHits;
    expect(await b.node.request('user/get', { id: 5 })).toEqual({ id: 5, v: 1 });
    expect(b.dht.stats().dhtHits).toBe(reads); // served from the near tier
    expect(b.calls.user).toBe(0);
    await a.node.cache.invalidateTags(['user:5']);
    const deadline = Date.now() + 5_000;
    while (b.calls.user === 0 && Date.now() < deadline) {
      await b.node.request('user/get', { id: 5 });
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(b.calls.user).toBe(1);
  });
});
