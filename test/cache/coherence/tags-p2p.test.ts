/**
 * Tag invalidations over the P2P network with real libp2p nodes on 127.0.0.1,
 * each node on its own memory backend: `invalidateTags`, `<service>/cache/invalidate`
 * and a service-level event rule with tags on one node reach the others' memory
 * backends (their own tag records), for the services concerned only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '../../../src/index.js';
import { gossipPeers, testLogger, waitFor } from '../../helpers/p2p.js';

const db = { version: 1 };

function member(bootstrap: string[] | undefined): Node {
  const node = new Node({
    logger: testLogger(),
    env: {},
    network: { id: 'tags-p2p', bootstrap },
    config: { cache: { backend: 'memory', ttl: 60 } },
  });
  const handler = async (_ctx: unknown, p: { id: number }) => ({ id: p.id, version: db.version });
  node.addService({
    name: 'user',
    cache: { events: [{ event: 'user.renamed', tags: ['user:{id}'] }] },
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

const version = async (node: Node, path: string, id: number) =>
  ((await node.request(path, { id })) as { version: number }).version;

describe('tag invalidations reach the memory backends of every member', () => {
  let nodes: Node[] = [];

  beforeAll(async () => {
    const first = member(undefined);
    await first.start();
    const rest = [member(first.network!.addresses()), member(first.network!.addresses())];
    await Promise.all(rest.map((m) => m.start()));
    nodes = [first, ...rest];
    await waitFor(() => nodes.every((m) => gossipPeers(m.network!).length >= 2), 20_000, 'gossip peers');
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
  });

  /** Caches `id` on every node for every action at `v`; checks each holds its own copy. */
  async function warm(id: number, v: number): Promise<void> {
    db.version = v;
    for (const n of nodes)
      for (const path of ['user/get_user', 'user/untagged', 'order/list']) await n.request(path, { id });
    db.version = v + 1;
    for (const n of nodes) expect(await version(n, 'user/get_user', id)).toBe(v);
  }

  const everywhere = async (path: string, id: number, v: number) => {
    for (const n of nodes)
      await waitFor(async () => (await version(n, path, id)) === v, 5_000, `${path} ${id} at ${v}`);
  };

  it('node.cache.invalidateTags on one node: every member, every service; untagged entries stay', async () => {
    await warm(1, 10);
    const received = nodes[1].cache.stats().near!.received;
    await nodes[0].cache.invalidateTags(['user:1']);
    expect(await version(nodes[0], 'user/get_user', 1)).toBe(11); // at once on the node that asked
    await everywhere('user/get_user', 1, 11);
    await everywhere('order/list', 1, 11);
    for (const n of nodes) expect(await version(n, 'user/untagged', 1)).toBe(10);
    expect(nodes[1].cache.stats().near!.received).toBeGreaterThan(received);
    expect(nodes[1].cache.stats().tagMisses).toBeGreaterThan(0);
  });

  it('<service>/cache/invalidate on one node: that service on every member, not the others', async () => {
    await warm(2, 20);
    await nodes[1].request('order/cache/invalidate', { tags: ['user:2'] });
    await everywhere('order/list', 2, 21);
    for (const n of nodes) expect(await version(n, 'user/get_user', 2)).toBe(20);
  });

  it('a service-level event rule with tags: that service on every member', async () => {
    await warm(3, 30);
    await nodes[2].publish('user.renamed', { id: 3 });
    await everywhere('user/get_user', 3, 31);
    for (const n of nodes) expect(await version(n, 'order/list', 3)).toBe(30);
  });

  it('1500 tags in one call: sent in notices receivers accept (no gap), the last tag reaches them', async () => {
    await warm(5, 50);
    const gaps = nodes[1].cache.stats().near!.gaps;
    const tags = [...Array.from({ length: 1499 }, (_, i) => `other:${i}`), 'user:5'];
    await nodes[0].cache.invalidateTags(tags);
    await everywhere('user/get_user', 5, 51);
    expect(nodes[1].cache.stats().near!.gaps).toBe(gaps);
  });

  it("a peer's notice for another network's records, or with tags no entry can carry, changes nothing", async () => {
    await warm(6, 60);
    const received = nodes[1].cache.stats().near!.received;
    const net = nodes[0].network!;
    await net.publishInvalidation({ scope: 'cache:other-net/$tags/*/', op: 'tags', tags: ['user:6'] });
    await net.publishInvalidation({ scope: 'cache:tags-p2p/$tags/*/', op: 'tags', tags: ['user:\u00016'] });
    await waitFor(() => nodes[1].cache.stats().near!.received >= received + 2, 5_000, 'notices received');
    for (const n of nodes) expect(await version(n, 'user/get_user', 6)).toBe(60);
  });

  it('a tag no entry carries invalidates nothing', async () => {
    await warm(4, 40);
    await nodes[0].cache.invalidateTags(['user:999']);
    await new Promise((r) => setTimeout(r, 300)); // well past the propagation time
    for (const n of nodes) expect(await version(n, 'user/get_user', 4)).toBe(40);
  });
});
