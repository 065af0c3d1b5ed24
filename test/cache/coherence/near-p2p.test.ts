/**
 * Invalidations over the P2P network with real libp2p nodes on 127.0.0.1:
 * delete, revoke, clear, a refresh and an event rule on one node reach the
 * memory backends (and near tiers) of the others; a gap in a publisher's
 * numbering makes the receivers flush.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '../../../src/index.js';
import { InvalidationSequencer } from '../../../src/network/invalidations.js';
import { gossipPeers, testLogger, waitFor } from '../../helpers/p2p.js';

const db = { version: 1 };

function member(id: string, bootstrap: string[] | undefined, backend = 'memory'): Node {
  const node = new Node({
    logger: testLogger(),
    env: {},
    network: { id, bootstrap },
    config: { cache: { backend, ttl: 60 } },
  });
  node.addService({
    name: 'user',
    cache: { events: [{ event: 'user.changed', keys: ['get_user:{id}'] }] },
    actions: {
      get_user: {
        cache: { keys: ['id'] },
        handler: async (_ctx: unknown, p: { id: number }) => ({ id: p.id, version: db.version }),
      },
    },
  });
  return node;
}

const version = async (node: Node, id: number) =>
  ((await node.request('user/get_user', { id })) as { version: number }).version;

async function startMembers(id: string, n: number, backend = 'memory'): Promise<Node[]> {
  const first = member(id, undefined, backend);
  await first.start();
  const rest = Array.from({ length: n - 1 }, () => member(id, first.network!.addresses(), backend));
  await Promise.all(rest.map((m) => m.start()));
  const all = [first, ...rest];
  await waitFor(() => all.every((m) => gossipPeers(m.network!).length >= n - 1), 20_000, 'gossip peers');
  return all;
}

describe('invalidations over the network reach the memory backends of every member', () => {
  let nodes: Node[] = [];

  beforeAll(async () => {
    nodes = await startMembers('near-mem', 3);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
  });

  const everywhere = async (id: number, v: number) => {
    for (const n of nodes) await waitFor(async () => (await version(n, id)) === v, 5_000, `version ${v}`);
  };

  it('delete on one node', async () => {
    db.version = 1;
    for (const n of nodes) expect(await version(n, 1)).toBe(1);
    db.version = 2;
    for (const n of nodes) expect(await version(n, 1)).toBe(1); // each memory holds its copy
    await nodes[0].request('user/cache/delete', { key: 'get_user:1' });
    expect(await version(nodes[0], 1)).toBe(2); // at once on the deleting node
    await everywhere(1, 2);
    expect(nodes[1].cache.stats().near?.received).toBeGreaterThan(0);
  });

  it('revoke and clear on one node', async () => {
    db.version = 3;
    await everywhere(1, 2);
    await nodes[1].request('user/cache/revoke', { pattern: 'get_user:*' });
    await everywhere(1, 3);
    db.version = 4;
    await nodes[2].request('user/cache/clear');
    await everywhere(1, 4);
  });

  it('a refresh (a write replacing a value) and an event rule', async () => {
    db.version = 5;
    await nodes[0].request('user/get_user', { id: 1 }, { cache: 'refresh' });
    await everywhere(1, 5);
    db.version = 6;
    await nodes[2].publish('user.changed', { id: 1 });
    await everywhere(1, 6);
  });

  it('a gap in a publisher numbering makes the others flush what it could have touched', async () => {
    db.version = 7;
    for (const n of nodes) await version(n, 2); // id 2 cached at version 7 everywhere
    db.version = 8;
    // A notice of node 0 lost on the way (numbered, never sent), then another delete.
    (
      nodes[0].network as unknown as { control: { sequencer: InvalidationSequencer } }
    ).control.sequencer.skip();
    await nodes[0].request('user/cache/delete', { key: 'get_user:999' });
    for (const n of nodes.slice(1)) {
      await waitFor(() => (n.cache.stats().near?.gaps ?? 0) > 0, 5_000, 'gap seen');
      expect(await version(n, 2)).toBe(8);
    }
  });
});

describe('the generic near tier in front of the DHT backend', () => {
  let nodes: Node[] = [];

  beforeAll(async () => {
    nodes = await startMembers('near-dht', 3, 'dht');
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
  });

  it('runs in bus mode; a delete on one node reaches the others', async () => {
    expect(nodes[0].cache.stats().near?.mode).toBe('bus');
    db.version = 20;
    expect(await version(nodes[0], 5)).toBe(20);
    expect(nodes[0].cache.stats().near?.entries).toBe(1); // its own write
    for (const n of nodes) await waitFor(async () => (await version(n, 5)) === 20, 5_000);
    db.version = 21;
    await nodes[1].request('user/cache/delete', { key: 'get_user:5' });
    expect(await version(nodes[1], 5)).toBe(21);
    for (const n of nodes) await waitFor(async () => (await version(n, 5)) === 21, 5_000);
  });

  it("a DHT hit fills the reader's near tier (getWithTtl): later reads are answered in process", async () => {
    db.version = 30;
    expect(await version(nodes[0], 6)).toBe(30);
    const hits = () => nodes[2].cache.stats().near?.hits ?? 0;
    const before = hits();
    // Node 2 reads it from the DHT (a fill may be refused while node 0's write notice is in flight), then in process.
    await waitFor(async () => (await version(nodes[2], 6)) === 30 && hits() > before, 5_000, 'a near hit');
    expect(hits()).toBeGreaterThan(before);
    // And a delete elsewhere still reaches that copy.
    db.version = 31;
    await nodes[1].request('user/cache/delete', { key: 'get_user:6' });
    await waitFor(async () => (await version(nodes[2], 6)) === 31, 5_000, 'delete reached the near copy');
  });
});

describe('InvalidationSequencer', () => {
  it('flags a gap, not a first notice, a restart or a late one', () => {
    const pub = new InvalidationSequencer();
    const sub = new InvalidationSequencer();
    const n = { scope: 's/', op: 'clear' as const };
    expect(sub.unwrap(pub.wrap(n), 'p')?.gap).toBe(false);
    expect(sub.unwrap(pub.wrap(n), 'p')?.gap).toBe(false);
    const late = pub.wrap(n);
    expect(sub.unwrap(pub.wrap(n), 'p')?.gap).toBe(true);
    expect(sub.unwrap(late, 'p')?.gap).toBe(false);
    const restarted = new InvalidationSequencer();
    restarted.skip();
    expect(sub.unwrap(restarted.wrap(n), 'p')?.gap).toBe(false);
    expect(sub.unwrap({ c: 'inv', e: 'x', s: 1, n: { scope: 1, op: 'clear' } }, 'q')).toBeUndefined();
  });
});

/** A store shared by in-process nodes, declared remote (like a custom networked store). */
function sharedRemoteStore(data: Map<string, { value: unknown; until: number }>, reads: { n: number }) {
  return {
    remote: true as const,
    async get(key: string) {
      reads.n++;
      const e = data.get(key);
      return e === undefined || (e.until !== 0 && e.until < Date.now()) ? undefined : e.value;
    },
    async getWithTtl(key: string) {
      reads.n++;
      const e = data.get(key);
      if (e === undefined) return undefined;
      return { value: e.value, ttlMs: e.until === 0 ? Number.POSITIVE_INFINITY : e.until - Date.now() };
    },
    async set(key: string, value: unknown, ttl: number) {
      data.set(key, { value, until: ttl === 0 ? 0 : Date.now() + ttl * 1000 });
    },
    async delete(key: string) {
      return data.delete(key);
    },
    async clear(prefix = '') {
      let n = 0;
      for (const k of [...data.keys()]) if (k.startsWith(prefix) && data.delete(k)) n++;
      return n;
    },
  };
}

describe('a custom backend that declares itself remote', () => {
  it('gets a near tier in bus mode on networked nodes; none without a network', async () => {
    const data = new Map<string, { value: unknown; until: number }>();
    const reads = { n: 0 };
    const mk = (network?: { id: string; bootstrap?: string[] }) => {
      const node = new Node({
        logger: testLogger(),
        env: {},
        ...(network ? { network } : {}),
        backends: { shared: sharedRemoteStore(data, reads) },
        config: { cache: { backend: 'shared', ttl: 60 } },
      });
      node.addService({
        name: 'user',
        actions: {
          get_user: {
            cache: { keys: ['id'] },
            handler: async (_ctx: unknown, p: { id: number }) => ({ id: p.id, version: db.version }),
          },
        },
      });
      return node;
    };
    const lone = mk();
    await lone.start();
    expect(lone.cache.stats().near?.mode).toBe('off');
    await lone.stop();

    const a = mk({ id: 'near-custom' });
    await a.start();
    const b = mk({ id: 'near-custom', bootstrap: a.network!.addresses() });
    await b.start();
    try {
      await waitFor(() => gossipPeers(a.network!).length >= 1 && gossipPeers(b.network!).length >= 1, 20_000);
      expect(b.cache.stats().near?.mode).toBe('bus');
      db.version = 30;
      expect(await version(a, 1)).toBe(30);
      expect(await version(b, 1)).toBe(30); // remote hit: fills b's tier
      const before = reads.n;
      for (let i = 0; i < 50; i++) await version(b, 1);
      expect(reads.n).toBe(before);
      db.version = 31;
      await a.request('user/cache/delete', { key: 'get_user:1' });
      await waitFor(async () => (await version(b, 1)) === 31, 5_000);
      // Bus mode announces every write: a record lost without a notice (a failed lookup on the
      // writer), then a plain miss-fill on b, still drops a's older near copy.
      expect(await version(a, 2)).toBe(31); // only a's tier holds id 2 (its own write)
      data.clear();
      db.version = 32;
      expect(await version(b, 2)).toBe(32);
      await waitFor(async () => (await version(a, 2)) === 32, 5_000);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 60_000);
});
