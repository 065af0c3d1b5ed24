/**
 * Meeting a stranger named in a digest: the node asks the member that named
 * it where it listens (`where`), then dials it: one request and one dial on
 * real libp2p networks, no kad-dht peer lookup. The answer says only where
 * members the answering node is connected to listen, and the asking node keeps
 * only addresses of the peers it asked about.
 */
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { learnAddresses } from '../../src/network/addresses.js';
import type { MeshNetwork } from '../../src/network/index.js';
import { directRequestSchema, MAX_WHERE_PEERS, parseDirectRequest } from '../../src/network/wire/index.js';
import { startCluster, stopAll, waitFor } from '../helpers/p2p.js';

interface MembershipInside {
  introduce(peers: readonly string[], via: string): void;
  addressesOf(peers: readonly string[]): Promise<{ ok: boolean; r?: string }>;
}
const membership = (net: MeshNetwork) => (net as unknown as { membership: MembershipInside }).membership;

function libp2pOf(net: MeshNetwork) {
  const node = net.libp2p;
  if (node === undefined) throw new Error('not started');
  return node;
}

/** Streams of the network's kad-dht protocol this node opened. */
function kadStreamsOpened(net: MeshNetwork): number {
  const sent = net.stats().sent;
  return Object.entries(sent)
    .filter(([kind]) => kind.startsWith('stream:') && kind.includes('/kad/'))
    .reduce((n, [, count]) => n + count, 0);
}

describe('where members listen', () => {
  let nets: MeshNetwork[] = [];
  afterEach(async () => {
    await stopAll(nets);
    nets = [];
  });

  /** Three members: the bootstrap node, and the other two by peer id (`lo` < `hi`). */
  async function threeMembers(): Promise<{ first: MeshNetwork; lo: MeshNetwork; hi: MeshNetwork }> {
    nets = await startCluster(3, { id: `where-${Date.now()}` });
    const [first, a, b] = nets as [MeshNetwork, MeshNetwork, MeshNetwork];
    return a.peerId < b.peerId ? { first, lo: a, hi: b } : { first, lo: b, hi: a };
  }

  it('hand checks agree with the schema', () => {
    const peer = '12D3KooWExample';
    const requests: unknown[] = [
      { t: 'where', p: [peer] },
      { t: 'where', p: Array.from({ length: MAX_WHERE_PEERS }, (_, i) => `${peer}${i}`) },
      { t: 'where', p: Array.from({ length: MAX_WHERE_PEERS + 1 }, (_, i) => `${peer}${i}`) },
      { t: 'where', p: [] },
      { t: 'where', p: [''] },
      { t: 'where', p: ['x'.repeat(129)] },
      { t: 'where', p: [7] },
      { t: 'where', p: peer },
      { t: 'where' },
    ];
    for (const r of requests)
      expect(parseDirectRequest(r) !== undefined, JSON.stringify(r).slice(0, 60)).toBe(
        v.safeParse(directRequestSchema, r).success,
      );
    expect(parseDirectRequest({ t: 'where', p: [peer] })).toEqual({ t: 'where', p: [peer] });
    expect(parseDirectRequest({ t: 'where', p: [] })).toBeUndefined();
  });

  it('a stranger named by a member is met by one question to that member and one dial', {
    timeout: 40_000,
  }, async () => {
    const { first, lo, hi } = await threeMembers();
    // Make them strangers: no connection, and nothing in their peer stores about each other.
    await libp2pOf(lo).hangUp(libp2pOf(hi).peerId);
    await waitFor(() => !lo.peers().includes(hi.peerId) && !hi.peers().includes(lo.peerId), 10_000, 'apart');
    await libp2pOf(lo).peerStore.delete(libp2pOf(hi).peerId);
    await libp2pOf(hi).peerStore.delete(libp2pOf(lo).peerId);

    const whereBefore = lo.stats().sent['rec:where'] ?? 0;
    const kadBefore = kadStreamsOpened(lo);
    // kad-dht streams opened up to the connection (a peer lookup would come before it; the
    // discovery lookup every join brings comes after).
    let kadAtConnection: number | undefined;
    libp2pOf(lo).addEventListener('connection:open', (evt) => {
      if (evt.detail.remotePeer.toString() === hi.peerId) kadAtConnection ??= kadStreamsOpened(lo);
    });
    membership(lo).introduce([hi.peerId], first.peerId);
    await waitFor(() => lo.peers().includes(hi.peerId) && hi.peers().includes(lo.peerId), 15_000, 'met');

    expect((lo.stats().sent['rec:where'] ?? 0) - whereBefore).toBe(1);
    expect(kadAtConnection).toBe(kadBefore);
    expect(libp2pOf(lo).getConnections(libp2pOf(hi).peerId)[0]?.direction).toBe('outbound');
  });

  it('a connected peer that never became a member (identify failed) is identified again, not dialed', {
    timeout: 40_000,
  }, async () => {
    // x has the larger id: the one that would wait for the other to dial a stranger.
    const { first, lo: y, hi: x } = await threeMembers();
    const node = libp2pOf(x);
    const other = libp2pOf(y).peerId;
    expect(node.getConnections(other).length).toBeGreaterThan(0);
    // As if identify had timed out when the connection opened: connected, not a member.
    (x as unknown as { membership: { members: Set<string> } }).membership.members.delete(y.peerId);
    expect(x.peers()).not.toContain(y.peerId);
    const connections = node.getConnections(other).map((c) => c.id);
    const whereBefore = x.stats().sent['rec:where'] ?? 0;
    membership(x).introduce([y.peerId], first.peerId);
    await waitFor(() => x.peers().includes(y.peerId), 15_000, 'member again');
    expect(node.getConnections(other).map((c) => c.id)).toEqual(connections);
    expect(x.stats().sent['rec:where'] ?? 0).toBe(whereBefore);
  });

  it('answers only for its members, and the asker keeps only what it asked about', {
    timeout: 40_000,
  }, async () => {
    const { first, lo: x, hi: y } = await threeMembers();
    const reply = await membership(first).addressesOf([x.peerId, '12D3KooWNotAMember']);
    expect(reply.ok).toBe(true);
    const told = JSON.parse(reply.r ?? '{}') as Record<string, string[]>;
    expect(Object.keys(told)).toEqual([x.peerId]);
    const listening = libp2pOf(x)
      .getMultiaddrs()
      .map((a) => a.decapsulateCode(421).toString());
    expect(told[x.peerId]?.some((a) => listening.includes(a))).toBe(true);

    // x is told of y (asked) with one bad address, and of first (not asked).
    const node = libp2pOf(x);
    await node.peerStore.delete(libp2pOf(y).peerId);
    const good = libp2pOf(y).getMultiaddrs()[0]?.decapsulateCode(421).toString() ?? '';
    const learned = await learnAddresses(
      node,
      JSON.stringify({ [y.peerId]: ['not an address', good], [first.peerId]: ['/ip4/10.9.9.9/tcp/1'] }),
      new Set([y.peerId]),
    );
    expect(learned).toBe(1);
    const kept = (await node.peerStore.get(libp2pOf(y).peerId)).addresses.map((a) => a.multiaddr.toString());
    expect(kept).toContain(good);
    const firstAddrs = (await node.peerStore.get(libp2pOf(first).peerId)).addresses.map((a) =>
      a.multiaddr.toString(),
    );
    expect(firstAddrs).not.toContain('/ip4/10.9.9.9/tcp/1');
    expect(await learnAddresses(node, 'not json', new Set([y.peerId]))).toBe(0);
    expect(await learnAddresses(node, '[1,2]', new Set([y.peerId]))).toBe(0);
  });
});
