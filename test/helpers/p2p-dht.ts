/** A cluster of networks with an open DHT backend on each (backend-level tests). */
import { DhtBackend, type DhtOptions } from '../../src/cache/backends/dht/index.js';
import type { MeshNetwork } from '../../src/network/index.js';
import { type ClusterOptions, startCluster, stopAll, testLogger } from './p2p.js';

export interface DhtCluster {
  nets: MeshNetwork[];
  backends: DhtBackend[];
  stop(): Promise<void>;
}

export async function openBackend(net: MeshNetwork, options: DhtOptions = {}): Promise<DhtBackend> {
  const backend = new DhtBackend(options);
  await backend.open({ networkId: net.networkId, logger: testLogger(), network: net });
  return backend;
}

export async function startDhtCluster(
  n: number,
  options: DhtOptions = {},
  cluster: ClusterOptions = {},
): Promise<DhtCluster> {
  const nets = await startCluster(n, cluster);
  const backends = await Promise.all(nets.map((net) => openBackend(net, options)));
  return {
    nets,
    backends,
    async stop() {
      await Promise.allSettled(backends.map((b) => b.close()));
      await stopAll(nets);
    },
  };
}

/** The indexes of the nodes that store a record for `key` (value or tombstone). */
export function holders(c: DhtCluster, key: string): number[] {
  return c.nets.flatMap((net, i) => (net.started && net.dht.readLocal(key) !== undefined ? [i] : []));
}
