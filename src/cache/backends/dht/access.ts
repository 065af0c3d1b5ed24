/**
 * Reads and writes of DHT records. One hop when the membership is known: the
 * `replication` holders are computed locally and asked/told directly (reads in
 * parallel, last-write-wins among the answers, losers repaired in the
 * background: one-hop-read.ts). Otherwise, or when no holder answers: a kad-dht lookup, and a
 * replicated put (closest peers, then PUT_VALUE to the `replication` closest).
 */
import { decodeValue } from '../../../codec/index.js';
import {
  isExpired,
  type MeshNetwork,
  type StoredRecord,
  sortByDistance,
  writeClock,
} from '../../../network/index.js';
import { readOneHop } from './one-hop-read.js';
import type { DhtState } from './state.js';

/** A record written by `writer` now: `value` (codec text, or '' for a tag record) living `ttlSeconds` (0: no expiry). */
export function newRecord(value: string, ttlSeconds: number, writer: string): StoredRecord {
  return {
    value,
    expiresAt: ttlSeconds > 0 ? Date.now() + ttlSeconds * 1000 : 0,
    writtenAt: writeClock(),
    writer,
  };
}

/** Holders asked beyond `replication` while the membership settles (records may be one step away). */
const UNSETTLED_EXTRA = 2;

export class RecordAccess {
  constructor(private readonly state: DhtState) {}

  private holders(network: MeshNetwork, key: string): string[] | undefined {
    const { oneHop, replication } = this.state.options;
    if (!oneHop.enabled) return undefined;
    return network.holdersOf(key, replication, oneHop.settleMs);
  }

  /** A record of `key` (one hop when possible, else a kad lookup); undefined for none or a failure. */
  async read(key: string, signal?: AbortSignal): Promise<StoredRecord | undefined> {
    const network = this.state.network;
    if (network === undefined || !network.started) return undefined;
    const all = this.holders(network, key);
    // A holder not heard of within the staleness bound does not serve: asking it would only wait.
    const holders = all?.filter((peer) => !network.silent(peer));
    if (holders !== undefined && holders.length === 0) return undefined;
    if (holders !== undefined) {
      const { oneHop, opTimeoutMs } = this.state.options;
      const answer = await readOneHop(
        network,
        key,
        holders,
        {
          mode: oneHop.read,
          hedgeMs: oneHop.hedgeMs,
          timeoutMs: oneHop.timeoutMs,
          repairTimeoutMs: opTimeoutMs,
        },
        this.countRepairs,
      );
      if (answer.ok) {
        this.state.counters.directReads++;
        return answer.record;
      }
      this.state.counters.fallbacks++;
    } else {
      // The membership is complete but changed moments ago: ask a few more holders than
      // usual, all of them, and take the newest copy; with none found, the lookup decides.
      const found = await this.readUnsettled(network, key);
      if (found !== undefined) {
        this.state.counters.directReads++;
        return found;
      }
    }
    return this.fetch(key, signal ?? this.state.signal()); // a timer only when the lookup runs
  }

  private async readUnsettled(network: MeshNetwork, key: string): Promise<StoredRecord | undefined> {
    const { oneHop, replication, opTimeoutMs } = this.state.options;
    if (!oneHop.enabled) return undefined;
    const holders = network.holdersOf(key, replication + UNSETTLED_EXTRA, 0);
    if (holders === undefined) return undefined;
    const answer = await readOneHop(
      network,
      key,
      holders,
      {
        mode: 'all',
        hedgeMs: 0,
        timeoutMs: oneHop.timeoutMs,
        repairTimeoutMs: opTimeoutMs,
        repairOnly: new Set(holders.slice(0, replication)),
      },
      this.countRepairs,
    );
    return answer.record;
  }

  private readonly countRepairs = (n: number): void => {
    this.state.counters.repairs += n;
  };

  /**
   * The live record of stored key `key` (not deleted, expired or invalidated):
   * `pending` (writeBehind sets in flight) first, else a read; undefined is a miss.
   */
  async readLive(key: string, pending: ReadonlyMap<string, StoredRecord>): Promise<StoredRecord | undefined> {
    const network = this.state.network;
    if (network === undefined || !network.started) return undefined;
    const record = pending.get(key) ?? (await this.read(key));
    if (
      record === undefined ||
      record.deleted === true ||
      isExpired(record) ||
      this.state.rules.invalidates(key, record.writtenAt)
    ) {
      this.state.counters.dhtMisses++;
      return undefined;
    }
    return record;
  }

  /** The decoded value of `key`'s live record and its expiry; undefined is a miss (an unreadable value too). */
  async readEntry(
    key: string,
    pending: ReadonlyMap<string, StoredRecord>,
  ): Promise<{ value: unknown; expiresAt: number } | undefined> {
    const record = await this.readLive(key, pending);
    if (record === undefined) return undefined;
    let value: unknown;
    try {
      value = decodeValue(record.value ?? '');
    } catch (err) {
      this.state.counters.dhtMisses++;
      this.state.logger?.warn({ key, err: (err as Error).message }, 'unreadable value in the DHT: a miss');
      return undefined;
    }
    this.state.counters.dhtHits++;
    return { value, expiresAt: record.expiresAt };
  }

  /**
   * Stores `record` on its holders: one hop when the membership is known, else after a
   * kad lookup. `ack`: resolve once every holder stored it (`all`), or once the closest
   * did (`primary`: the others are sent it at the same moment; one that fails is
   * repaired by a replicated put in the background).
   */
  async write(
    key: string,
    record: StoredRecord,
    ack: 'primary' | 'all',
    signal = this.state.signal(),
  ): Promise<Reach> {
    const network = this.state.network;
    if (network === undefined || !network.started) return { reached: 0, holders: 0 };
    const holders = this.holders(network, key);
    if (holders !== undefined) {
      // A holder not heard of within the staleness bound does not serve: sent, not waited for.
      const silent = holders.filter((peer) => network.silent(peer));
      const sends = holders.map((peer) => {
        const put = network.dht.directPut(peer, key, record, signal).catch(() => false);
        return silent.includes(peer) ? false : put;
      });
      const settled = Promise.all(sends);
      const all = settled.then((results) => results.every(Boolean));
      if (ack === 'primary' && (await sends[0]) === true) {
        this.state.counters.puts++;
        this.state.counters.directWrites++;
        void all.then((ok) => (ok ? undefined : this.repairWrite(key, record)));
        return { reached: 1, holders: holders.length };
      }
      const took = (await settled).filter(Boolean).length;
      // Every holder that can answer took it: a lookup would only wait for the silent ones.
      if (took + silent.length === holders.length) {
        this.state.counters.puts++;
        this.state.counters.directWrites++;
        return { reached: took, holders: holders.length };
      }
      this.state.counters.fallbacks++;
      // The lookup may find no more (the holder that did not answer is still away): the direct count stands.
      const replicated = await this.replicate(key, record, signal);
      return { reached: Math.max(took, replicated.reached), holders: holders.length };
    }
    return this.replicate(key, record, signal);
  }

  /** A holder missed a write acknowledged by the primary: a replicated put, in the background. */
  private repairWrite(key: string, record: StoredRecord): void {
    this.state.counters.fallbacks++;
    this.replicate(key, record).catch((err: Error) =>
      this.state.logger?.debug({ key, err: err.message }, 'background replication failed'),
    );
  }

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
  async replicate(key: string, record: StoredRecord, signal = this.state.signal()): Promise<Reach> {
    const network = this.state.network;
    if (network === undefined || !network.started) return { reached: 0, holders: 0 };
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
    // Its own bound: a lookup that waited for an unreachable peer must not leave the stores no time.
    const storing = this.state.signal();
    const results = await Promise.all(
      targets.map((peer) =>
        dht.storeAt(peer, key, record, storing).catch((err: Error) => {
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
    return { reached: stored, holders: targets.length };
  }
}

/** How many of a key's holders took a write (`primary`: only the first is known). */
export interface Reach {
  reached: number;
  holders: number;
}
