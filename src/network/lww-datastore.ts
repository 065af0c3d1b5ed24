/**
 * The datastore under kad-dht: an in-memory store that enforces last-write-wins
 * for meshcache records. kad-dht's PUT_VALUE handler overwrites whatever is
 * stored without consulting the selector, so an older record arriving late (a
 * slow put, a read repair racing a delete) would replace a newer one. Here a
 * put of a `/mc/` record is kept only if it wins over the stored one
 * (`compareRecords`) and passes every write filter (the DHT backend's
 * invalidation rules); a refused put is silently dropped, which the sender
 * cannot tell from success: that is the point, the newer record stays.
 */
import { Record as DhtRecord } from '@libp2p/kad-dht';
import { MemoryDatastore } from 'datastore-core';
import { Key } from 'interface-datastore';
import type { ClockWatch } from './clock.js';
import {
  boundRecord,
  compareRecords,
  encodeRecord,
  fromDhtKey,
  parseRecordText,
  type RecordTransport,
  rebaseRecord,
  type StoredRecord,
} from './record.js';

/** kad-dht keeps records under `<datastorePrefix>/record/<base32 key>`. */
export const DHT_DATASTORE_PREFIX = '/dht';
export const RECORD_KEY_PREFIX = `${DHT_DATASTORE_PREFIX}/record/`;

const textDecoder = new TextDecoder();

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32, lower case, no padding (the encoding kad-dht uses for datastore keys). */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/** The datastore key kad-dht uses for the record of DHT key `dhtKey`. */
export function recordDatastoreKey(dhtKey: Uint8Array): Key {
  return new Key(`${RECORD_KEY_PREFIX}${base32(dhtKey)}`, false);
}

/** Decides whether a record may be stored (already re-based into this node's clock); false refuses it. `from`: the sending peer, when it said. */
export type WriteFilter = (key: string, record: StoredRecord, from?: string) => boolean;

/** A stored meshcache record with its keys. */
export interface LocalRecord {
  readonly key: string;
  readonly dhtKey: Uint8Array;
  readonly record: StoredRecord;
}

export class LwwDatastore extends MemoryDatastore {
  private readonly filters = new Set<WriteFilter>();
  /** Puts refused because a newer record was stored or a filter said no. */
  refused = 0;
  /** Puts refused because they claimed a write time beyond this node's clock plus the tolerance. */
  refusedFuture = 0;
  /** Decoded records by datastore key, filled on read and dropped on every write or delete of the key. */
  private readonly decoded = new Map<string, LocalRecord>();

  /**
   * False while this node cannot vouch for the records it holds (out of touch
   * with the network, or reconciling after it): they are kept, and still take
   * deletes and writes, but nobody is served from them (kad lookups included).
   */
  serving = true;

  /** With `clock`, incoming records are re-based into this node's clock and bounded by it (docs/dht.md, "Clocks"). */
  constructor(private readonly clock?: ClockWatch) {
    super();
  }

  /** Adds a filter consulted on every meshcache record put; returns a remover. */
  addWriteFilter(filter: WriteFilter): () => void {
    this.filters.add(filter);
    return () => this.filters.delete(filter);
  }

  override put(
    key: Key,
    val: Uint8Array,
    options?: Parameters<MemoryDatastore['put']>[2],
  ): Key | Promise<Key> {
    const ks = key.toString();
    if (!ks.startsWith(RECORD_KEY_PREFIX)) return super.put(key, val, options);
    let parsed: { entry: LocalRecord; transport?: RecordTransport } | undefined;
    try {
      parsed = parseEntry(DhtRecord.deserialize(val));
    } catch {
      parsed = undefined; // not a meshcache record (or not one we can read): kad-dht's own business
    }
    if (parsed === undefined) {
      this.decoded.delete(ks);
      return super.put(key, val, options);
    }
    this.putRecord(key, parsed.entry, this.clock === undefined ? undefined : parsed.transport);
    return key;
  }

  /**
   * Stores a decoded meshcache record under datastore key `key` if it wins: re-based
   * into this node's clock from `transport` (the sender and its clock), bounded by it,
   * passed through the write filters, newer than the stored one. False when refused
   * (an identical record already stored counts as stored).
   * (The one-hop protocol calls this directly: no protobuf round trip.)
   */
  putRecord(key: Key, incoming: LocalRecord, transport?: RecordTransport): boolean {
    let record = incoming.record;
    if (this.clock !== undefined) {
      // A sender's clock beyond the tolerance: its timestamps are moved into this node's clock.
      if (transport !== undefined)
        record = rebaseRecord(record, this.clock.observe(transport.from, transport.sent));
      const bounded = boundRecord(record, this.clock.toleranceMs);
      if (bounded === undefined) {
        this.refused++;
        this.refusedFuture++;
        return false;
      }
      record = bounded;
    }
    for (const filter of this.filters) {
      if (!filter(incoming.key, record, transport?.from)) {
        this.refused++;
        return false;
      }
    }
    const current = this.readLocal(key);
    if (current !== undefined) {
      const order = compareRecords(current.record, record);
      if (order > 0) this.refused++;
      if (order >= 0) return order === 0; // the same record is already here: not a refusal
    }
    // Stored without transport fields, in this node's clock; the decoded form is kept for reads.
    const entry: LocalRecord = { key: incoming.key, dhtKey: incoming.dhtKey, record };
    super.put(key, new DhtRecord(incoming.dhtKey, encodeRecord(record), new Date()).serialize());
    this.decoded.set(key.toString(), entry);
    return true;
  }

  override get(key: Key, options?: Parameters<MemoryDatastore['get']>[1]): Uint8Array {
    if (!this.serving && key.toString().startsWith(RECORD_KEY_PREFIX)) {
      // kad-dht answers a NotFoundError (by name) as "no record here".
      const err = new Error('record held but not served (out of touch)');
      err.name = 'NotFoundError';
      throw err;
    }
    return super.get(key, options) as Uint8Array;
  }

  override delete(key: Key, options?: Parameters<MemoryDatastore['delete']>[1]): void | Promise<void> {
    this.decoded.delete(key.toString());
    return super.delete(key, options);
  }

  /** The meshcache record stored under a datastore key, if any (synchronous: the store is in memory). */
  readLocal(key: Key): LocalRecord | undefined {
    const ks = key.toString();
    const known = this.decoded.get(ks);
    if (known !== undefined) return known;
    // has() first: MemoryDatastore.get throws a NotFoundError (a stack trace, the largest
    // item in a holder's profile) for every put of a new key and every read of an absent one.
    if (super.has(key) !== true) return undefined;
    let raw: Uint8Array;
    try {
      raw = super.get(key) as Uint8Array;
    } catch {
      return undefined;
    }
    let entry: LocalRecord | undefined;
    try {
      entry = parseRecordEntry(raw);
    } catch {
      return undefined;
    }
    if (entry !== undefined) this.decoded.set(ks, entry);
    return entry;
  }

  /** Every meshcache record stored here. */
  *records(): Generator<LocalRecord & { readonly dsKey: Key }> {
    for (const pair of this._all({ prefix: RECORD_KEY_PREFIX }) as Generator<{
      key: Key;
      value: Uint8Array;
    }>) {
      const ks = pair.key.toString();
      let entry = this.decoded.get(ks);
      if (entry === undefined) {
        try {
          entry = parseRecordEntry(pair.value);
        } catch {
          continue;
        }
        if (entry !== undefined) this.decoded.set(ks, entry);
      }
      if (entry !== undefined) yield { ...entry, dsKey: pair.key };
    }
  }
}

/** Decodes a serialized kad-dht record holding a meshcache record; undefined for other records. */
export function parseRecordEntry(raw: Uint8Array): LocalRecord | undefined {
  return parseEntry(DhtRecord.deserialize(raw))?.entry;
}

/** The meshcache record in a kad-dht record and the sender's transport fields, in one JSON parse. */
function parseEntry(rec: DhtRecord): { entry: LocalRecord; transport?: RecordTransport } | undefined {
  const key = fromDhtKey(rec.key);
  if (key === undefined) return undefined;
  const { record, transport } = parseRecordText(textDecoder.decode(rec.value));
  return { entry: { key, dhtKey: rec.key, record }, ...(transport === undefined ? {} : { transport }) };
}
