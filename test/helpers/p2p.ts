/** Helpers for tests with real libp2p nodes on 127.0.0.1. */

import type { PeerId } from '@libp2p/interface';
import pino, { type Logger } from 'pino';
import { eventsTopic, MeshNetwork, type NetworkOptions } from '../../src/network/index.js';

/** A silent logger (set MESHCACHE_TEST_LOG=debug to see the network's logs). */
export function testLogger(): Logger {
  return pino({ level: process.env.MESHCACHE_TEST_LOG ?? 'silent' });
}

/** Polls `check` until it returns true (or a truthy value), or throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Peer ids of the members that subscribed to the network's events topic (gossip reaches them directly). */
export function gossipPeers(net: MeshNetwork): string[] {
  const node = net.libp2p;
  if (node === undefined) return [];
  const members = new Set(net.peers());
  const subscribers: PeerId[] = node.services.pubsub.getSubscribers(eventsTopic(net.networkId));
  return subscribers.map((p) => p.toString()).filter((p) => members.has(p));
}

/**
 * Waits until at least `count` members are connected and in the DHT routing
 * table (so lookups reach them), or throws.
 */
export async function waitForPeers(net: MeshNetwork, count: number, timeoutMs = 30_000): Promise<void> {
  const ready = () => {
    if (net.peers().length < count) return false;
    const rt = net.started ? net.dht.routingTableSize : 0;
    return rt < 0 || rt >= count;
  };
  try {
    await waitFor(ready, timeoutMs, `${count} peers`);
  } catch {
    throw new Error(
      `network ${net.networkId}: ${net.peers().length} of ${count} peers after ${timeoutMs} ms`,
    );
  }
}

export interface ClusterOptions extends Partial<NetworkOptions> {
  /** Peers each node must see before the cluster counts as up (default: all others). */
  minPeers?: number;
}

/**
 * Starts `n` networks with the same id on loopback, the first one being the
 * bootstrap of the others, and waits until every node sees `minPeers` members.
 */
export async function startCluster(n: number, options: ClusterOptions = {}): Promise<MeshNetwork[]> {
  const { minPeers, ...netOptions } = options;
  const id = netOptions.id ?? 'test';
  const first = new MeshNetwork({ ...netOptions, id }, testLogger());
  await first.start();
  const nets = [first];
  try {
    const bootstrap = netOptions.bootstrap ?? first.addresses();
    const rest = await Promise.all(
      Array.from({ length: n - 1 }, async () => {
        const net = new MeshNetwork({ ...netOptions, id, bootstrap }, testLogger());
        nets.push(net);
        await net.start();
        return net;
      }),
    );
    const all = [first, ...rest];
    const want = minPeers ?? n - 1;
    await Promise.all(all.map((net) => waitForPeers(net, want, 30_000)));
    await waitFor(() => all.every((net) => gossipPeers(net).length >= want), 15_000, 'gossip subscriptions');
    return all;
  } catch (err) {
    await stopAll(nets);
    throw err;
  }
}

/** Stops every network, ignoring errors (for afterAll). */
export async function stopAll(nets: Iterable<MeshNetwork | undefined>): Promise<void> {
  await Promise.allSettled([...nets].map((n) => n?.stop()));
}
