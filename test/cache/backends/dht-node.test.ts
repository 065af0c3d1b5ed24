/**
 * The DHT backend through real meshcache nodes on loopback: a value computed on
 * node A is a hit on node C (its handler does not run), and invalidations by
 * event rule and by management action reach every node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '../../../src/index.js';
import type { MeshNetwork } from '../../../src/network/index.js';
import { gossipPeers, testLogger, waitFor, waitForPeers } from '../../helpers/p2p.js';

interface Member {
  node: Node;
  calls: { get_user: number; get_profile: number };
}

function member(network: { id: string; bootstrap?: string[] }): Member {
  const calls = { get_user: 0, get_profile: 0 };
  const node = new Node({
    logger: testLogger(),
    network,
    config: {
      cache: { enabled: true, backend: 'dht', ttl: 60, replication: 2, failure: { opTimeoutMs: 3000 } },
      services: { user: { cache: { events: [{ event: 'user.updated', keys: ['get_user:{id}'] }] } } },
    },
  });
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { enabled: true, ttl: 60, keys: ['id'] },
        handler: async (_ctx: unknown, p: { id: number }) => {
          calls.get_user++;
          return { id: p.id, name: `user ${p.id}`, at: new Date(1_700_000_000_000) };
        },
      },
      get_profile: {
        cache: { enabled: true, ttl: 60, keys: ['id'] },
        handler: async (_ctx: unknown, p: { id: number }) => {
          calls.get_profile++;
          return `profile ${p.id}`;
        },
      },
    },
  });
  return { node, calls };
}

const net = (m: Member | undefined): MeshNetwork => m!.node.network!;

describe('DHT cache shared by three nodes', () => {
  const members: Member[] = [];
  beforeAll(async () => {
    const a = member({ id: 'node-it' });
    members.push(a);
    await a.node.start();
    const bootstrap = net(a).addresses();
    const rest = [member({ id: 'node-it', bootstrap }), member({ id: 'node-it', bootstrap })];
    members.push(...rest);
    await Promise.all(rest.map((m) => m.node.start()));
    await Promise.all(members.map((m) => waitForPeers(net(m), 2, 30_000)));
    await waitFor(() => members.every((m) => gossipPeers(net(m)).length === 2), 15_000, 'gossip');
  });
  afterAll(async () => {
    await Promise.allSettled(members.map((m) => m.node.stop()));
  });

  it('a miss on A becomes a hit on C without running the handler there', async () => {
    const [a, , c] = members as [Member, Member, Member];
    expect(a.node.networkId).toBe('node-it');
    const first = await a.node.request('user/get_user', { id: 1 });
    expect(a.calls.get_user).toBe(1);
    const onC = await c.node.request('user/get_user', { id: 1 });
    expect(onC).toEqual(first);
    expect(onC).toEqual({ id: 1, name: 'user 1', at: new Date(1_700_000_000_000) });
    expect(c.calls.get_user).toBe(0);
    expect(c.node.cache.stats().hits).toBeGreaterThanOrEqual(1);
  });

  it('an event published on B invalidates the entry on every node', async () => {
    const [a, b, c] = members as [Member, Member, Member];
    await a.node.request('user/get_user', { id: 2 });
    await b.node.request('user/get_user', { id: 2 });
    await c.node.request('user/get_user', { id: 2 });
    expect(a.calls.get_user + b.calls.get_user + c.calls.get_user).toBe(2); // id 1 on A, id 2 once
    await b.node.publish('user.updated', { id: 2 });
    // Each node applies the rule when the event reaches it; then every node misses once.
    await waitFor(
      async () => {
        const before = a.calls.get_user + b.calls.get_user + c.calls.get_user;
        await c.node.request('user/get_user', { id: 2 });
        return a.calls.get_user + b.calls.get_user + c.calls.get_user > before;
      },
      10_000,
      'invalidation on C',
    );
  });

  it('user/cache/revoke on one node makes every node miss', async () => {
    const [a, b, c] = members as [Member, Member, Member];
    for (const id of [10, 11]) await a.node.request('user/get_profile', { id });
    for (const m of [b, c]) for (const id of [10, 11]) await m.node.request('user/get_profile', { id });
    expect(a.calls.get_profile + b.calls.get_profile + c.calls.get_profile).toBe(2);
    await c.node.request('user/cache/revoke', { pattern: 'get_profile:1?' });
    await waitFor(
      async () => {
        for (const m of [a, b]) await m.node.request('user/get_profile', { id: 10 });
        return a.calls.get_profile + b.calls.get_profile >= 3;
      },
      10_000,
      'revoke reaching A and B',
    );
    const before = a.calls.get_profile + b.calls.get_profile + c.calls.get_profile;
    await c.node.request('user/get_profile', { id: 11 });
    expect(a.calls.get_profile + b.calls.get_profile + c.calls.get_profile).toBe(before + 1);
  });
});
