/** One-hop reads and writes: holders computed locally, direct protocol, fallbacks. */

import { createHash } from 'node:crypto';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshNetwork, sortByDistance } from '../../../src/network/index.js';
import {
  directReplySchema,
  directRequestSchema,
  MAX_IN_FLIGHT,
  parseDirectReply,
  parseDirectRequest,
} from '../../../src/network/wire/index.js';
import { testLogger, waitFor, waitForPeers } from '../../helpers/p2p.js';
import { type DhtCluster, holders, openBackend, startDhtCluster } from '../../helpers/p2p-dht.js';

/** The part of kad-dht's routing table a test touches. */
interface RoutingTableLike {
  kb: { _add(peer: { peerId: PeerId; kadId: Uint8Array; lastPing: number }): Promise<void> };
  remove(peer: PeerId): Promise<void>;
}

describe('one-hop DHT path on 5 loopback nodes', () => {
  let c: DhtCluster;
  const extra: MeshNetwork[] = [];
  beforeAll(async () => {
    c = await startDhtCluster(5, { replication: 3 }, { id: 'onehop' });
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
    // It keeps its stream open and never answers: the read waits oneHop.timeoutMs for it, no more.
    const serving = closest.direct.serving;
    closest.direct.serve(() => new Promise(() => {}));
    try {
      expect(await reader?.get(key)).toBe('alive');
    } finally {
      if (serving !== undefined) closest.direct.serve(serving);
    }
    // The closest holder lost its copy: a hedged read asks the others, and gives it back.
    const closestIdx = c.nets.indexOf(closest);
    closest.dht.deleteLocal(key);
    expect(await reader?.get(key)).toBe('alive');
    await waitFor(() => c.nets[closestIdx]?.dht.readLocal(key) !== undefined, 5_000, 'read repair');
  });

  it('a hedged read asks only the closest holder when it answers; a parallel read asks all and repairs any', async () => {
    const key = 'cache:h/hedge';
    await c.backends[0]?.set(key, 'v', 60);
    const order = (c.nets[0] as MeshNetwork).holdersOf(key, 3) ?? [];
    const readerIdx = c.nets.findIndex((n) => !order.includes(n.peerId));
    const readerNet = c.nets[readerIdx] as MeshNetwork;
    const asked: string[] = [];
    const restore: Array<() => void> = [];
    for (const net of c.nets) {
      const serving = net.direct.serving;
      if (serving === undefined) continue;
      net.direct.serve((req, from) => {
        if (req.t === 'get' && req.k === key && from === readerNet.peerId) asked.push(net.peerId);
        return serving(req, from);
      });
      restore.push(() => net.direct.serve(serving));
    }
    // A long hedge delay, so that a slow machine does not make the closest look dead.
    const hedged = await openBackend(readerNet, { oneHop: { hedgeMs: 5_000 } });
    const parallel = await openBackend(readerNet, { oneHop: { read: 'parallel' } });
    try {
      expect(await hedged.get(key)).toBe('v');
      expect(asked).toEqual([order[0]]);
      asked.length = 0;
      // The farthest holder lost its copy: only a read that asks it can notice.
      const farthest = c.nets.find((n) => n.peerId === order[2]) as MeshNetwork;
      farthest.dht.deleteLocal(key);
      expect(await parallel.get(key)).toBe('v');
      await waitFor(() => asked.length === 3, 5_000, 'every holder asked'); // the reader holds none
      expect([...asked].sort()).toEqual([...order].sort());
      await waitFor(() => farthest.dht.readLocal(key) !== undefined, 5_000, 'read repair (parallel)');
      expect(parallel.stats().repairs).toBeGreaterThan(0);
    } finally {
      for (const r of restore) r();
      await hedged.close();
      await parallel.close();
    }
  });

  it("a set waits for every holder (writeAck: 'all', the default); 'primary' resolves on the closest holder's acknowledgement", async () => {
    const key = 'cache:h/ack';
    const order = (c.nets[0] as MeshNetwork).holdersOf(key, 3) ?? [];
    // A writer that is not the closest holder; the farthest holder takes puts and never answers.
    const writerIdx = c.nets.findIndex((n) => n.peerId !== order[0] && n.peerId !== order[2]);
    const farthest = c.nets.find((n) => n.peerId === order[2]) as MeshNetwork;
    const serving = farthest.direct.serving;
    let held = 0;
    farthest.direct.serve((req, from) => {
      if (req.t === 'put' && req.k === key) {
        held++;
        return new Promise(() => {});
      }
      return (serving as NonNullable<typeof serving>)(req, from);
    });
    const writerNet = c.nets[writerIdx] as MeshNetwork;
    const primary = await openBackend(writerNet, { opTimeoutMs: 1_500, writeAck: 'primary' });
    const all = await openBackend(writerNet, { opTimeoutMs: 1_500 }); // 'all', the default
    try {
      let settled = false;
      await primary.set(key, 'p', 60).then(() => {
        settled = true;
      });
      expect(settled).toBe(true);
      // Sent to the hung holder too, and not waited for.
      await waitFor(() => held === 1, 5_000, 'the farthest holder was sent the put');
      const closest = c.nets.find((n) => n.peerId === order[0]) as MeshNetwork;
      expect(closest.dht.readLocal(key)?.value).toBeDefined();
      // With 'all' the same hung holder holds the set until the operation bound.
      let done = false;
      const write = all.set(key, 'a', 60).then(() => {
        done = true;
      });
      await waitFor(() => held === 2, 5_000, 'the farthest holder was sent the second put');
      await new Promise((r) => setTimeout(r, 200));
      expect(done).toBe(false);
      await write;
    } finally {
      if (serving !== undefined) farthest.direct.serve(serving);
      await primary.close();
      await all.close();
    }
    // Every reader finds the last write (the hung holder's copy is repaired by reads).
    for (const b of c.backends) expect(await b.get(key)).toBe('a');
  });

  it('while the membership settles after a join, a read asks every likely holder for the newest copy; writes land', async () => {
    const newcomer = new MeshNetwork({ id: 'onehop', bootstrap: c.nets[0]?.addresses() }, testLogger());
    extra.push(newcomer);
    const start = newcomer.start();
    const key = 'cache:h/during-join';
    await c.backends[2]?.set(key, 'joined', 60); // during the join
    await start;
    await waitForPeers(newcomer, 5, 30_000);
    // Unsettled membership: no holders computed for ordinary reads...
    expect(newcomer.holdersOf(key, 3, 5_000)).toBeUndefined();
    const b = await openBackend(newcomer);
    try {
      // ...but the settling read asks replication + 2 of them at once and takes the newest.
      expect(await b.get(key)).toBe('joined');
      expect(b.stats().directReads).toBe(1);
      await Promise.all(c.backends.map((x) => x.flush()));
      for (const x of c.backends) expect(await x.get(key)).toBe('joined');
    } finally {
      await b.close();
    }
  });

  it('with an incomplete membership (a routing-table peer that is no member) the kad-dht lookup serves', async () => {
    const reader = c.nets[3] as MeshNetwork;
    const key = 'cache:h/incomplete';
    await c.backends[0]?.set(key, 'looked-up', 60);
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
    const kad = reader.libp2p?.services.dht as unknown as { routingTable: RoutingTableLike } | undefined;
    if (kad === undefined) throw new Error('the reader is not started');
    const table = kad.routingTable;
    // Straight into the bucket: kad-dht's add() pings a new contact first, and this one does not exist.
    const kadId = new Uint8Array(createHash('sha256').update(stranger.toMultihash().bytes).digest());
    await table.kb._add({ peerId: stranger, kadId, lastPing: Date.now() });
    try {
      expect(reader.dht.routingTablePeers()).toContain(stranger.toString());
      expect(reader.holdersOf(key, 3, 0)).toBeUndefined();
      const before = c.backends[3]?.stats().directReads ?? 0;
      expect(await c.backends[3]?.get(key)).toBe('looked-up');
      expect(c.backends[3]?.stats().directReads).toBe(before);
    } finally {
      await table.remove(stranger);
    }
  });

  it('after a member leaves, reads take one hop again once settled, though kad-dht still lists it', async () => {
    const leaving = c.nets[4] as MeshNetwork;
    const reader = c.nets[1] as MeshNetwork;
    const key = 'cache:h/after-leave';
    await c.backends[0]?.set(key, 'kept', 60);
    await leaving.stop();
    await waitFor(() => !reader.peers().includes(leaving.peerId), 10_000, 'the member left');
    await settle();
    // kad-dht evicts a dead peer only when a later query finds it dead: it is still in the table.
    expect(reader.dht.routingTablePeers()).toContain(leaving.peerId);
    expect(reader.holdersOf(key, 3, 5_000)).toBeDefined();
    const before = c.backends[1]?.stats().directReads ?? 0;
    expect(await c.backends[1]?.get(key)).toBe('kept');
    expect(c.backends[1]?.stats().directReads).toBe(before + 1);
  });
});

describe('direct protocol messages', () => {
  const requests: unknown[] = [
    { t: 'get', k: 'a' },
    { t: 'get', k: '' },
    { t: 'get', k: 'x'.repeat(8193) },
    { t: 'get', k: 1 },
    { t: 'put', k: 'a', r: '{}' },
    { t: 'put', k: 'a' },
    { t: 'put', k: 'a', r: 3 },
    { t: 'ctl', m: { c: 'dht' } },
    { t: 'ctl', m: null },
    { t: 'ctl', m: 'x' },
    { t: 'nope', k: 'a' },
    null,
    'get',
    [],
  ];
  const replies: unknown[] = [
    { ok: true },
    { ok: false, sent: 5 },
    { ok: true, r: '{}', sent: 1 },
    { ok: 'yes' },
    { ok: true, r: 1 },
    { ok: true, sent: Number.POSITIVE_INFINITY },
    { ok: true, sent: '1' },
    null,
    {},
  ];
  it('checks requests and replies as the zod schemas do', () => {
    for (const r of requests)
      expect(parseDirectRequest(r) !== undefined, JSON.stringify(r)).toBe(
        v.safeParse(directRequestSchema, r).success,
      );
    for (const r of replies)
      expect(parseDirectReply(r) !== undefined, JSON.stringify(r)).toBe(
        v.safeParse(directReplySchema, r).success,
      );
    expect(parseDirectRequest({ t: 'get', k: 'a', i: 3, extra: 1 })).toEqual({ t: 'get', k: 'a' });
  });
});

describe('direct protocol streams', () => {
  let nets: MeshNetwork[] = [];
  afterAll(async () => {
    await Promise.allSettled(nets.map((n) => n.stop()));
  });

  it('multiplexes requests on one stream per peer, more than the in-flight bound at once, and re-opens after a failure', async () => {
    const a = new MeshNetwork({ id: 'direct-mux' }, testLogger());
    await a.start();
    const b = new MeshNetwork({ id: 'direct-mux', bootstrap: a.addresses() }, testLogger());
    nets = [a, b];
    await b.start();
    await waitForPeers(b, 1, 30_000);
    await waitFor(() => a.peers().length === 1, 15_000, 'a sees b');
    let seen = 0;
    b.direct.serve(async (req) => {
      if (req.t === 'get') seen++; // heartbeats and catalog asks share the stream
      await new Promise((r) => setTimeout(r, 5));
      return { ok: true, r: req.t === 'get' ? req.k : undefined };
    });
    const n = 3 * MAX_IN_FLIGHT;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        a.direct.request(b.peerId, { t: 'get', k: `k${i}` }, AbortSignal.timeout(10_000)),
      ),
    );
    expect(replies.map((r) => r.r)).toEqual(Array.from({ length: n }, (_, i) => `k${i}`));
    expect(seen).toBe(n);
    expect(a.direct.opened).toBe(1);
    // The peer restarts its side: the stream dies, the next request opens a new one.
    const conn = a.libp2p?.getConnections()[0];
    // a's own stream to b (b opened one to a too, when each saw the other join).
    const stream = conn?.streams.find(
      (s) => s.protocol?.includes('/rec/2.0.0') && s.direction === 'outbound',
    );
    stream?.abort(new Error('test: stream reset'));
    const again = await a.direct.request(b.peerId, { t: 'get', k: 'after' }, AbortSignal.timeout(10_000));
    expect(again.r).toBe('after');
    expect(a.direct.opened).toBe(2);
    // An aborted request does not break the stream for the others.
    b.direct.serve(() => new Promise(() => {}));
    await expect(
      a.direct.request(b.peerId, { t: 'get', k: 'hang' }, AbortSignal.timeout(100)),
    ).rejects.toThrow();
    b.direct.serve((req) => ({ ok: true, r: req.t === 'get' ? req.k : undefined }));
    expect((await a.direct.request(b.peerId, { t: 'get', k: 'z' }, AbortSignal.timeout(10_000))).r).toBe('z');
    expect(a.direct.opened).toBe(2);
  });
});
