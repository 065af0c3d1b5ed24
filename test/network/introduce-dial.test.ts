/**
 * Introductions between two real networks that never met: when both hear of
 * each other at once, only the one with the smaller peer id dials, so the
 * pair keeps one connection, not one each way; the larger id dials only if
 * they are still strangers a few seconds after it first heard of the other.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MeshNetwork } from '../../src/network/index.js';
import { stopAll, testLogger, waitFor } from '../helpers/p2p.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a member's digest would make the membership do (named by a member it does not have: no one to ask where). */
function introduce(net: MeshNetwork, peer: string): void {
  (net as unknown as { membership: { introduce(p: string[], via: string): void } }).membership.introduce(
    [peer],
    'no-member',
  );
}

function conns(from: MeshNetwork, to: MeshNetwork) {
  const node = from.libp2p;
  const other = to.libp2p;
  if (node === undefined || other === undefined) throw new Error('not started');
  return node.getConnections(other.peerId);
}

describe('introductions dial once per pair', () => {
  let nets: MeshNetwork[] = [];
  afterEach(async () => {
    await stopAll(nets);
    nets = [];
  });

  /** Two networks of one id, not connected, each knowing where the other listens (as kad-dht tells it). */
  async function strangers(): Promise<{ lo: MeshNetwork; hi: MeshNetwork }> {
    const id = `introduce-${Date.now()}`;
    nets = [new MeshNetwork({ id }, testLogger()), new MeshNetwork({ id }, testLogger())];
    await Promise.all(nets.map((n) => n.start()));
    const [a, b] = nets as [MeshNetwork, MeshNetwork];
    for (const [n, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const node = n.libp2p;
      const o = other.libp2p;
      if (node === undefined || o === undefined) throw new Error('not started');
      await node.peerStore.merge(o.peerId, { multiaddrs: o.getMultiaddrs() });
    }
    expect(conns(a, b)).toHaveLength(0);
    return a.peerId < b.peerId ? { lo: a, hi: b } : { lo: b, hi: a };
  }

  it('both hear of each other at once: the smaller id dials, one connection', {
    timeout: 20_000,
  }, async () => {
    const { lo, hi } = await strangers();
    introduce(hi, lo.peerId);
    introduce(lo, hi.peerId);
    await waitFor(() => lo.peers().includes(hi.peerId) && hi.peers().includes(lo.peerId), 10_000, 'members');
    await sleep(500);
    expect(conns(lo, hi)).toHaveLength(1);
    expect(conns(lo, hi)[0]?.direction).toBe('outbound');
    expect(conns(hi, lo)).toHaveLength(1);
  });

  it('the larger id dials once the smaller has not, a few seconds later', { timeout: 20_000 }, async () => {
    const { lo, hi } = await strangers();
    introduce(hi, lo.peerId);
    await sleep(500);
    expect(conns(hi, lo)).toHaveLength(0);
    // Named again by a later digest, past the deferral: now it dials.
    await sleep(2_700);
    introduce(hi, lo.peerId);
    await waitFor(() => conns(hi, lo).length > 0, 10_000, 'connection');
    expect(conns(hi, lo)[0]?.direction).toBe('outbound');
  });
});
