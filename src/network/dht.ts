/**
 * `MeshDht`: the storage primitives the DHT cache backend builds on, over the
 * node's kad-dht service and its last-write-wins datastore.
 *
 * kad-dht stores a put on the `k` (20) closest peers it finds, and `k` also sizes
 * the routing table: shrinking it to get fewer replicas cripples lookups. So
 * routing keeps the normal `k`, and a replicated put is done in two steps:
 * a kad lookup (`closestPeers`), then PUT_VALUE messages sent to the
 * `replication` closest peers only (`storeAt`, through kad-dht's own network
 * layer and protocol). Reads are plain kad-dht lookups (`get`), whose selector
 * picks the newest record and whose read repair corrects stale replicas.
 */
import { createHash } from 'node:crypto';
import type { PeerId } from '@libp2p/interface';
import { Record as DhtRecord, type KadDHT, MessageType } from '@libp2p/kad-dht';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Logger } from 'pino';
import { MeshError } from '../errors.js';
import type { ClockWatch } from './clock.js';
import type { DirectService } from './direct.js';
import {
  type LocalRecord,
  type LwwDatastore,
  recordDatastoreKey,
  type WriteFilter,
} from './lww-datastore.js';
import {
  boundRecord,
  decodeRecord,
  encodeRecord,
  observeClock,
  parseRecordText,
  rebaseRecord,
  recordText,
  type StoredRecord,
  toDhtKey,
} from './record.js';
import type { DirectReply, GetRequest, PutRequest } from './wire/index.js';

const NO_PATH = { index: -1, queued: 0, running: 0, total: 0 };

interface KadEvent {
  name: string;
  peer?: { id: PeerId };
  from?: PeerId;
  value?: Uint8Array;
  error?: Error;
}

/** The part of kad-dht's (internal) network layer used to send one PUT_VALUE to one peer. */
interface KadNetwork {
  sendRequest(
    to: PeerId,
    msg: { type: MessageType; key: Uint8Array; record: Uint8Array },
    options: object,
  ): AsyncIterable<KadEvent>;
}

function kadId(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

const peerKadIds = new Map<string, Buffer>();

function peerKadId(peerId: string): Buffer {
  let id = peerKadIds.get(peerId);
  if (id === undefined) {
    id = kadId(peerIdFromString(peerId).toMultihash().bytes);
    if (peerKadIds.size > 10_000) peerKadIds.clear();
    peerKadIds.set(peerId, id);
  }
  return id;
}

/** XOR distance comparison of two peers to a key's kad id (negative: `a` is closer). */
function closer(target: Buffer, a: Buffer, b: Buffer): number {
  for (let i = 0; i < target.length; i++) {
    const da = (a[i] ?? 0) ^ (target[i] ?? 0);
    const db = (b[i] ?? 0) ^ (target[i] ?? 0);
    if (da !== db) return da - db;
  }
  return 0;
}

/** Sorts peer ids by Kademlia distance to `key` (closest first). */
export function sortByDistance(key: string, peers: Iterable<string>): string[] {
  const target = kadId(toDhtKey(key));
  return [...new Set(peers)].sort((a, b) => closer(target, peerKadId(a), peerKadId(b)));
}

export class MeshDht {
  private readonly network: KadNetwork | undefined;
  /**
   * Bumped when kad-dht's routing table adds or removes a peer (undefined: its
   * events are not reachable, so callers cannot cache what they derive from it).
   */
  routingVersion: number | undefined;
  private readonly detachRouting: (() => void) | undefined;

  constructor(
    private readonly kad: KadDHT,
    readonly datastore: LwwDatastore,
    readonly selfId: string,
    private readonly logger: Logger,
    /** Peer clock offsets: records served by a peer whose clock is off are re-based into this node's clock. */
    readonly clock?: ClockWatch,
    /** The one-hop record protocol (reads and writes straight to computed holders). */
    private readonly direct?: DirectService,
  ) {
    const net = (kad as unknown as { network?: Partial<KadNetwork> }).network;
    this.network = typeof net?.sendRequest === 'function' ? (net as KadNetwork) : undefined;
    if (this.network === undefined)
      logger.warn('kad-dht network layer not reachable: puts go to all k closest peers');
    const table = (kad as unknown as { routingTable?: Partial<EventTarget> }).routingTable;
    if (typeof table?.addEventListener === 'function' && typeof table.removeEventListener === 'function') {
      this.routingVersion = 0;
      const bump = () => {
        this.routingVersion = (this.routingVersion ?? 0) + 1;
      };
      table.addEventListener('peer:add', bump);
      table.addEventListener('peer:remove', bump);
      this.detachRouting = () => {
        table.removeEventListener?.('peer:add', bump);
        table.removeEventListener?.('peer:remove', bump);
      };
    }
  }

  /** Stops following the routing table (the network stopped). */
  close(): void {
    this.detachRouting?.();
  }

  /** Peer ids in kad-dht's routing table (undefined when not readable). */
  routingTablePeers(): string[] | undefined {
    const kb = (
      this.kad as unknown as { routingTable?: { kb?: { toIterable?: () => Iterable<{ peerId: PeerId }> } } }
    ).routingTable?.kb;
    if (typeof kb?.toIterable !== 'function') return undefined;
    return [...kb.toIterable()].map((p) => p.peerId.toString());
  }

  /** A received record in this node's clock (re-based by the sender's offset, bounded by the tolerance). */
  private inLocalClock(key: string, rec: StoredRecord, from: string | undefined): StoredRecord | undefined {
    const clock = this.clock;
    if (clock === undefined) {
      observeClock(rec.writtenAt);
      return rec;
    }
    if (from !== undefined && from !== this.selfId) rec = rebaseRecord(rec, clock.shiftOf(from) ?? 0);
    const bounded = boundRecord(rec, clock.toleranceMs);
    if (bounded === undefined) {
      this.logger.debug({ key, from, writtenAt: rec.writtenAt }, 'dht record from the future: a miss');
      return undefined;
    }
    observeClock(bounded.writtenAt, clock.toleranceMs);
    return bounded;
  }

  /** One-hop read: the record `peerId` holds for `key` (undefined: none); throws when the peer does not answer. */
  async directGet(peerId: string, key: string, signal: AbortSignal): Promise<StoredRecord | undefined> {
    if (peerId === this.selfId) return this.readServed(key);
    if (this.direct === undefined) throw new Error('no direct protocol');
    const reply = await this.direct.request(peerId, { t: 'get', k: key }, signal);
    if (!reply.ok) throw new Error(`peer ${peerId} refused the read`);
    if (typeof reply.sent === 'number') this.clock?.observe(peerId, reply.sent);
    if (reply.r === undefined) return undefined;
    return this.inLocalClock(key, parseRecordText(reply.r).record, peerId);
  }

  /** One-hop write to `peerId` (stored through its LWW datastore); true when it acknowledged. */
  async directPut(peerId: string, key: string, record: StoredRecord, signal: AbortSignal): Promise<boolean> {
    if (peerId === this.selfId) return this.storeLocal(key, record);
    if (this.direct === undefined) return this.storeAt(peerId, key, record, signal);
    const wire = recordText(record, { from: this.selfId, sent: Date.now() });
    const reply = await this.direct.request(peerId, { t: 'put', k: key, r: wire }, signal);
    return reply.ok;
  }

  /** Answers a one-hop get or put (`ctl` and `lease` are the network's). */
  answerDirect(req: GetRequest | PutRequest): DirectReply {
    const sent = Date.now();
    if (req.t === 'get') {
      // Refused, not "none": the reader asks another holder.
      if (!this.datastore.serving) return { ok: false, sent };
      const rec = this.readLocal(req.k);
      return rec === undefined ? { ok: true, sent } : { ok: true, sent, r: recordText(rec) };
    }
    let parsed: ReturnType<typeof parseRecordText>;
    try {
      parsed = parseRecordText(req.r);
    } catch {
      return { ok: false, sent };
    }
    const dhtKey = toDhtKey(req.k);
    // Stored as a kad-dht PUT_VALUE would be: re-based by `from`/`sent`, kept only if newest (LwwDatastore).
    this.datastore.putRecord(
      recordDatastoreKey(dhtKey),
      { key: req.k, dhtKey, record: parsed.record },
      parsed.transport,
    );
    return { ok: true, sent };
  }

  /** Peers in kad-dht's routing table (-1 when not readable). */
  get routingTableSize(): number {
    const size = (this.kad as unknown as { routingTable?: { size?: unknown } }).routingTable?.size;
    return typeof size === 'number' ? size : -1;
  }

  /**
   * The newest record stored under `key` among the peers a kad lookup reaches
   * (this node included), in this node's clock: a copy served by a peer whose
   * clock is off by more than the tolerance is re-based by its measured offset,
   * and a copy that still claims a write time beyond this node's clock plus the
   * tolerance is a miss (undefined).
   */
  async get(key: string, signal: AbortSignal): Promise<StoredRecord | undefined> {
    let found: Uint8Array | undefined;
    let from: string | undefined;
    for await (const event of this.kad.get(toDhtKey(key), { signal }) as AsyncIterable<KadEvent>) {
      if (event.name === 'VALUE' && event.value !== undefined) {
        found = event.value;
        from = event.from?.toString();
      }
    }
    if (found === undefined) return undefined;
    return this.inLocalClock(key, decodeRecord(found), from);
  }

  /** The peers a kad lookup finds closest to `key`, closest first (this node excluded). */
  async closestPeers(key: string, signal: AbortSignal): Promise<string[]> {
    const peers: string[] = [];
    for await (const event of this.kad.getClosestPeers(toDhtKey(key), {
      signal,
    }) as AsyncIterable<KadEvent>) {
      if (event.name === 'FINAL_PEER' && event.peer !== undefined) peers.push(event.peer.id.toString());
    }
    return sortByDistance(key, peers);
  }

  /** Looks up the peers closest to this node, which connects to them (peer discovery); returns how many were found. */
  async selfLookup(signal: AbortSignal): Promise<number> {
    let n = 0;
    const self = peerIdFromString(this.selfId).toMultihash().bytes;
    for await (const event of this.kad.getClosestPeers(self, { signal }) as AsyncIterable<KadEvent>) {
      if (event.name === 'FINAL_PEER') n++;
    }
    return n;
  }

  /** Sends `record` to one peer with a PUT_VALUE message; true when the peer acknowledged it. */
  async storeAt(peerId: string, key: string, record: StoredRecord, signal: AbortSignal): Promise<boolean> {
    if (peerId === this.selfId) return this.storeLocal(key, record);
    const dhtKey = toDhtKey(key);
    // The receiver measures this node's clock from `sent` (and re-bases the record if it is off).
    const wire = encodeRecord(record, { from: this.selfId, sent: Date.now() });
    const raw = new DhtRecord(dhtKey, wire, new Date()).serialize();
    if (this.network === undefined) {
      for await (const _ of this.kad.put(dhtKey, encodeRecord(record), { signal })) {
        // drain
      }
      return true;
    }
    let ok = false;
    const events = this.network.sendRequest(
      peerIdFromString(peerId),
      { type: MessageType.PUT_VALUE, key: dhtKey, record: raw },
      { signal, path: NO_PATH },
    );
    for await (const event of events) {
      if (event.name === 'PEER_RESPONSE') ok = true;
      else if (event.name === 'QUERY_ERROR') {
        this.logger.debug({ peer: peerId, err: event.error?.message }, 'dht put to peer failed');
        ok = false;
      }
    }
    return ok;
  }

  /** Stores a record in this node's datastore; false when a newer record (or a write filter) refused it. */
  storeLocal(key: string, record: StoredRecord): boolean {
    const dhtKey = toDhtKey(key);
    const dsKey = recordDatastoreKey(dhtKey);
    return this.datastore.putRecord(dsKey, { key, dhtKey, record });
  }

  /** The record this node stores for `key`, if any. */
  readLocal(key: string): StoredRecord | undefined {
    return this.datastore.readLocal(recordDatastoreKey(toDhtKey(key)))?.record;
  }

  /** The record this node holds for `key`, when it may serve it (see `LwwDatastore.serving`). */
  readServed(key: string): StoredRecord | undefined {
    return this.datastore.serving ? this.readLocal(key) : undefined;
  }

  /** Removes this node's copy of `key`. */
  deleteLocal(key: string): void {
    this.datastore.delete(recordDatastoreKey(toDhtKey(key)));
  }

  /** Every meshcache record this node stores. */
  localRecords(): Iterable<LocalRecord> {
    return this.datastore.records();
  }

  /** Adds a filter that can refuse incoming records (invalidation rules); returns a remover. */
  addWriteFilter(filter: WriteFilter): () => void {
    return this.datastore.addWriteFilter(filter);
  }
}

/** Wraps a failure of the network layer. */
export function networkError(message: string, cause?: unknown): MeshError {
  return new MeshError('NETWORK_ERROR', message, {}, cause);
}
