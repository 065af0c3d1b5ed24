/**
 * Tags on the DHT (docs/tags.md): a tag record is a DHT record of its own
 * (key: the tag record key; `writtenAt`: when the tag was invalidated, in the
 * invalidating node's clock, re-based like every record from a skewed peer),
 * stored on that key's holders and kept `retentionSeconds`. A tagged entry is
 * stored with a header naming its tag records (the Redis format); reading it
 * reads those records from their holders in parallel (a second round trip),
 * so a node that missed a broadcast still never serves an invalidated entry.
 *
 * The tag clock is the wall clock in ms: an invalidation at `t` makes every
 * entry whose read started before `t + 1` a miss. Nodes' clocks within the
 * clock tolerance are compared as they are (keep them synchronized, as for
 * Redis Cluster; docs/tags.md).
 */
import { decodeValue, encodeValue } from '../../../codec/index.js';
import { isExpired, type StoredRecord } from '../../../network/index.js';
import type { TaggedRead } from '../backend.js';
import { payloadOf, taggedString } from '../redis-tags.js';
import { assertTtl } from '../ttl.js';
import { newRecord, type RecordAccess } from './access.js';
import type { DhtState } from './state.js';

export class DhtTags {
  constructor(
    private readonly state: DhtState,
    private readonly access: RecordAccess,
    /** The backend's writeBehind sets in flight (read first, as by `get`). */
    private readonly writing: ReadonlyMap<string, StoredRecord>,
    private readonly storedKey: (key: string) => string,
    private readonly selfId: () => string,
  ) {}

  /** The entry, the latest invalidation among its tag records, and the tag clock now. */
  async get(key: string): Promise<TaggedRead> {
    const now = Date.now();
    const record = await this.access.readLive(this.storedKey(key), this.writing);
    if (record === undefined || record.value === undefined)
      return { value: undefined, invalidatedAt: 0, now };
    const { payload, tagKeys } = payloadOf(record.value);
    let value: unknown;
    try {
      value = decodeValue(payload);
    } catch (err) {
      this.state.counters.dhtMisses++;
      this.state.logger?.warn({ key, err: (err as Error).message }, 'unreadable value in the DHT: a miss');
      return { value: undefined, invalidatedAt: 0, now };
    }
    this.state.counters.dhtHits++;
    // The remaining life lets the near tier keep a copy, never longer than the record.
    const ttlMs = record.expiresAt === 0 ? Number.POSITIVE_INFINITY : record.expiresAt - now;
    if (tagKeys.length === 0) return { value, invalidatedAt: 0, now, ttlMs };
    const records = await Promise.all(tagKeys.map((k) => this.access.read(this.storedKey(k))));
    let invalidatedAt = 0;
    for (const r of records) {
      if (r === undefined || r.deleted === true || isExpired(r)) continue;
      if (r.writtenAt + 1 > invalidatedAt) invalidatedAt = r.writtenAt + 1;
    }
    return { value, invalidatedAt, now, ttlMs };
  }

  /** Stores `value` with the header naming its tag records. */
  async set(key: string, value: unknown, ttlSeconds: number, tagKeys: readonly string[]): Promise<void> {
    assertTtl(ttlSeconds, key);
    const record = newRecord(taggedString(tagKeys, encodeValue(value)), ttlSeconds, this.selfId());
    const network = this.state.network;
    if (network === undefined || !network.started) return;
    await this.access.write(this.storedKey(key), record, this.state.options.writeAck);
  }

  /** Writes each tag record (invalidation time: now) to its holders. */
  async invalidate(tagKeys: readonly string[], retentionSeconds: number): Promise<void> {
    const network = this.state.network;
    if (network === undefined || !network.started) return;
    const record = newRecord('', retentionSeconds, this.selfId());
    await Promise.all(tagKeys.map((k) => this.access.write(this.storedKey(k), record, 'all')));
  }
}
