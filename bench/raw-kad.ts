/**
 * Baselines for the DHT benchmark: plain kad-dht put/get on the raw namespace
 * (no meshcache record, no LWW, no replication control), through the libp2p
 * node's kad-dht service.
 */
import type { MeshNetwork } from '#meshcache/network/index.js';
import { RAW_NAMESPACE } from '#meshcache/network/libp2p.js';

interface KadEvent {
  name: string;
  value?: Uint8Array;
}

function kad(net: MeshNetwork) {
  const node = net.libp2p;
  if (node === undefined) throw new Error('network not started');
  return node.services.dht;
}

const rawKey = (key: string) => new TextEncoder().encode(`/${RAW_NAMESPACE}/${key}`);

/** Plain kad-dht put (to the k closest peers a lookup finds). */
export async function rawPut(net: MeshNetwork, key: string, value: Uint8Array, signal: AbortSignal) {
  for await (const _ of kad(net).put(rawKey(key), value, { signal })) {
    // drain
  }
}

/** Plain kad-dht get (iterative lookup). */
export async function rawGet(net: MeshNetwork, key: string, signal: AbortSignal) {
  let found: Uint8Array | undefined;
  try {
    for await (const event of kad(net).get(rawKey(key), { signal }) as AsyncIterable<KadEvent>) {
      if (event.name === 'VALUE' && event.value !== undefined) found = event.value;
    }
  } catch (err) {
    if ((err as Error).name !== 'NotFoundError') throw err;
  }
  return found;
}
