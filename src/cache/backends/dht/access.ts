/**
 * Reads and writes of DHT records: a kad-dht lookup, and a replicated put
 * (closest peers, then PUT_VALUE to the `replication` closest).
 */
import { type StoredRecord, sortByDistance } from '../../../network/index.js';
import type { DhtState } from './state.js';

export class RecordAccess {
  constructor(private readonly state: DhtState) {}

  /** A kad lookup; undefined for a miss or a failure. */
  async fetch(key: string, signal = this.state.signal()): Promise<StoredRecord | undefined> {
    try {
      const network = this.state.network;
      if (network === undefined || !network.started) return undefined;
      return await network.dht.get(key, signal);
    } catch (err) {
      this.state.counters.lookupFailures++;
      this.state.logger?.debug({ key, err: (err as Error).message }, 'dht lookup failed: a miss');
      return undefined;
    }
  }

  /** Stores `record` on the `replication` closest peers (this node included when it is one of them). */
  async replicate(key: string, record: StoredRecord, signal = this.state.signal()): Promise<void> {
    const network = this.state.network;
    if (network === undefined || !network.started) return;
    const dht = network.dht;
    let closest: string[] = [];
    try {
      closest = await dht.closestPeers(key, signal);
    } catch (err) {
      this.state.logger?.debug(
        { key, err: (err as Error).message },
        'dht lookup of closest peers failed; using connected peers',
      );
      closest = this.state.network?.peers() ?? [];
    }
    const targets = sortByDistance(key, [...closest, dht.selfId]).slice(0, this.state.options.replication);
    const results = await Promise.all(
      targets.map((peer) =>
        dht.storeAt(peer, key, record, signal).catch((err: Error) => {
          this.state.logger?.debug({ key, peer, err: err.message }, 'dht put failed');
          return false;
        }),
      ),
    );
    const stored = results.filter(Boolean).length;
    this.state.counters.puts++;
    if (stored === 0) {
      // Nobody took it (all unreachable, or a newer record won everywhere): keep a local copy so the write is not lost.
      dht.storeLocal(key, record);
      this.state.counters.putFailures++;
    }
  }
}
