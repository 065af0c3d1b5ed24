/** One-hop reads and writes: holders computed locally, direct protocol, fallbacks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordProtocol } from '../../src/network/direct.js';
import { MeshNetwork, sortByDistance } from '../../src/network/index.js';
import { testLogger, waitFor, waitForPeers } from '../helpers/p2p.js';
import { type DhtCluster, holders, openBackend, startDhtCluster } from '../helpers/p2p-dht.js';

describe('one-hop DHT path on 5 loopback nodes', () => {
  let c: DhtCluster;
  const extra: MeshNetwork[] = [];
  beforeAll(async () => {
    c = await startDhtCluster(5, { replication: 3, nearCache: { enabled: false } }, { id: 'onehop' });
  });
  afterAll(async () => {
    await Promise.allSettled(extra.map((n) => n.stop()));
    await c?.stop();
  });
  const settle = () => new Promise((r) => setTimeout(r, 5_100)); // past oneHop.settleMs after the last join

  it('computes the same holders as the kad-dht closest-peers lookup', async () => {
    await settle();
    const net = c.nets[2] as MeshNetwork;
    for (let i = 0; i < 8; i++) {
      const key = `cache:h/k${i}`;
      const local = net.holdersOf(key, 3, 5_000);
      expect(local).toBeDefined();
      const found = await net.dht.closestPeers(key, AbortSignal.timeout(5_000));
      expect(local).toEqual(sortByDistance(key, [...found, net.peerId]).slice(0, 3));
    }
  });

  it('reads and writes one hop, with the copies where kad-dht would put them', async () => {
    const key = 'cache:h/direct';
    const before = c.backends[3]?.stats().directReads ?? 0;
    await c.backends[0]?.set(key, { v: 1 }, 60);
    expect(c.backends[0]?.stats().directWrites).toBeGreaterThan(0);
    expect(
      holders(c, key)
        .map((i) => c.nets[i]?.peerId)
        .sort(),
    ).toEqual([...((c.nets[0] as MeshNetwork).holdersOf(key, 3) ?? [])].sort());
    expect(await c.backends[3]?.get(key)).toEqual({ v: 1 });
    expect(c.backends[3]?.stats().directReads).toBe(before + 1);
    expect(await c.backends[4]?.get('cache:h/absent')).toBeUndefined();
  });

  it('reads past a closest holder that does not answer, and repairs a stale holder', async () => {
    const key = 'cache:h/dead-holder';
    await c.backends[1]?.set(key, 'alive', 60);
    const order = (c.nets[1] as MeshNetwork).holdersOf(key, 3) ?? [];
    const closest = c.nets.find((n) => n.peerId === order[0]) as MeshNetwork;
    const reader = c.backends[c.nets.findIndex((n) => !order.includes(n.peerId))];
    await closest.libp2p?.unhandle(recordProtocol('onehop'));
    try {
      expect(await reader?.get(key)).toBe('alive');
    } finally {
      await closest.libp2p?.handle(recordProtocol('onehop'), () => {}).catch(() => {});
    }
    // A holder that lost its copy gets it back from a reader.
    const second = c.nets.find((n) => n.peerId === order[1]) as MeshNetwork;
    second.dht.deleteLocal(key);
    const other =
      c.backends[
        c.nets.findIndex((n) => !order.includes(n.peerId) && c.backends[c.nets.indexOf(n)] !== reader)
      ];
    expect(await other?.get(key)).toBe('alive');
    await waitFor(() => second.dht.readLocal(key) !== undefined, 5_000, 'read repair');
  });

  it('falls back to the lookup while the membership changes, and writes land during a join', async () => {
    const newcomer = new MeshNetwork({ id: 'onehop', bootstrap: c.nets[0]?.addresses() }, testLogger());
    extra.push(newcomer);
    const start = newcomer.start();
    const key = 'cache:h/during-join';
    await c.backends[2]?.set(key, 'joined', 60); // during the join
    await start;
    await waitForPeers(newcomer, 5, 30_000);
    // Incomplete/unsettled membership: no locally computed holders, the lookup serves.
    expect(newcomer.holdersOf(key, 3, 5_000)).toBeUndefined();
    const b = await openBackend(newcomer, { nearCache: { enabled: false } });
    try {
      expect(await b.get(key)).toBe('joined');
      expect(b.stats().directReads).toBe(0);
      await Promise.all(c.backends.map((x) => x.flush()));
      for (const x of c.backends) expect(await x.get(key)).toBe('joined');
    } finally {
      await b.close();
    }
  });
});
