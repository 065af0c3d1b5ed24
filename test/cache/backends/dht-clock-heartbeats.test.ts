/**
 * Clock offsets on a DHT network: with a staleness bound the members'
 * heartbeats carry their wall clocks, so every node measures every member's
 * clock without a clock beacon (a gossip message each node would otherwise
 * publish on every join and every sweep); with the bound off the beacons
 * still go out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Node } from '../../../src/index.js';
import type { MeshNetwork } from '../../../src/network/index.js';
import { testLogger, waitFor, waitForPeers } from '../../helpers/p2p.js';

function dhtNode(id: string, maxStalenessMs: number, bootstrap?: string[]): Node {
  return new Node({
    logger: testLogger(),
    network: { id, ...(bootstrap === undefined ? {} : { bootstrap }) },
    config: { cache: { enabled: true, backend: 'dht', ttl: 60, coherence: { maxStalenessMs } } },
  });
}

const net = (n: Node): MeshNetwork => n.network as MeshNetwork;
const beaconsSent = (n: Node) => net(n).stats().sent['ctl:dht:clock'] ?? 0;

describe('clock offsets learned from heartbeats', () => {
  const nodes: Node[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });

  async function network(id: string, bound: number): Promise<[Node, Node, Node]> {
    const a = dhtNode(id, bound);
    nodes.push(a);
    await a.start();
    const rest = [dhtNode(id, bound, net(a).addresses()), dhtNode(id, bound, net(a).addresses())];
    nodes.push(...rest);
    await Promise.all(rest.map((n) => n.start()));
    await Promise.all(nodes.map((n) => waitForPeers(net(n), 2, 30_000)));
    return nodes as [Node, Node, Node];
  }

  it('with the default bound: every member measured, no beacon sent', async () => {
    const all = await network('clock-hb', 1000);
    await waitFor(
      () =>
        all.every((n) => all.every((m) => m === n || net(n).clock.offsets()[net(m).peerId] !== undefined)),
      10_000,
      'every member measured every other member',
    );
    // Past both beacon delays a join used to schedule (250 ms and 3 s).
    await new Promise((r) => setTimeout(r, 3_500));
    for (const n of all) {
      expect(net(n).sendsHeartbeats).toBe(true);
      expect(beaconsSent(n)).toBe(0);
      // One process, one clock: what is measured is the way, not a skew.
      for (const offset of Object.values(net(n).clock.offsets()))
        expect(Math.abs(offset)).toBeLessThan(1_000);
    }
  }, 60_000);

  it('with the bound off: no heartbeats, and the beacons measure the clocks', async () => {
    const all = await network('clock-beacons', 0);
    await waitFor(() => all.every((n) => beaconsSent(n) > 0), 10_000, 'a beacon from every node');
    for (const n of all) expect(net(n).sendsHeartbeats).toBe(false);
  }, 60_000);
});
