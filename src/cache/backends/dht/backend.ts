/**
 * The DHT cache backend: entries live in the network's Kademlia DHT (one DHT
 * per network id), each on the `replication` peers closest to its key. The
 * generic near tier (src/cache/coherence/near-tiers.ts) sits in front of it, as of every remote
 * backend. Design and guarantees: docs/dht.md.
 * Invalidations: invalidation.ts; replication upkeep and sweep: upkeep.ts.
 *
 * - `set` stores `{ value, expiresAt, writtenAt, writer }` on the closest peers;
 *   conflicting writes resolve last-write-wins (`compareRecords`) when stored
 *   and when read.
 * - `get` reads the holders (one hop, access.ts), else a kad lookup; an expired,
 *   deleted or invalidated record, a failed or timed-out lookup: a miss.
 * - `delete` writes a tombstone; `delete`, `clear` and `revoke` are broadcast
 *   on the network's control topic and applied by every node to the records it
 *   stores; they are also remembered (rules.ts) so
 *   that late writes and stale replicas stay dead.
 * - Upkeep re-replicates records when peers leave or join; a sweep removes
 *   expired records.
 */
import { encodeValue } from '../../../codec/index.js';
import { MeshError } from '../../../errors.js';
import { isExpired, type MeshNetwork, type StoredRecord, writeClock } from '../../../network/index.js';
import { compileGlob } from '../../keys/glob.js';
import type { BackendContext, CacheBackend, TaggedRead } from '../backend.js';
import { assertTtl } from '../ttl.js';
import { newRecord, type Reach, RecordAccess } from './access.js';
import { Invalidations, SYNC_NAME } from './invalidation.js';
import { type DhtOptions, parseDhtOptions, type ResolvedDhtOptions } from './options.js';
import { RuleLog } from './rules.js';
import { type DhtBackendStats, type DhtState, type InvalidationInfo, newCounters } from './state.js';
import { DhtTags } from './tags.js';
import { Upkeep } from './upkeep.js';

export class DhtBackend implements CacheBackend {
  readonly options: ResolvedDhtOptions;
  /** Every operation settles within this bound by itself (the caching layer then adds no timer). */
  readonly operationTimeoutMs: number;
  /** Its records live on other nodes: invalidation notices of the near bus never touch it directly. */
  readonly remote = true as const;
  private readonly state: DhtState;
  private readonly invalidations: Invalidations;
  private readonly upkeep: Upkeep;
  private readonly access: RecordAccess;
  private readonly tags: DhtTags;
  private readonly detach: Array<() => void> = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private hadPeers = false;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly prefix: string;
  /** Records of `writeBehind` sets still being stored: this node reads its own writes meanwhile. */
  private readonly writing = new Map<string, StoredRecord>();

  constructor(options: DhtOptions = {}) {
    this.options = parseDhtOptions(options);
    this.prefix = this.options.prefix;
    this.operationTimeoutMs = this.options.opTimeoutMs;
    const timeout = this.options.opTimeoutMs;
    this.state = {
      options: this.options,
      rules: new RuleLog(this.options.tombstoneTtlSeconds * 1000),
      counters: newCounters(),
      network: undefined,
      logger: undefined,
      // AbortSignal.timeout is unref'd; fine here: every DHT operation runs over libp2p's sockets,
      // which keep the process alive while the node runs (src/node/deadline-signal.ts says why elsewhere).
      signal: () => AbortSignal.timeout(timeout),
    };
    this.invalidations = new Invalidations(this.state);
    this.upkeep = new Upkeep(this.state);
    this.access = new RecordAccess(this.state);
    this.tags = new DhtTags(
      this.state,
      this.access,
      this.writing,
      (k) => this.storedKey(k),
      () => this.selfId(),
    );
  }

  async open(ctx: BackendContext): Promise<void> {
    if (ctx.network === undefined) {
      throw new MeshError(
        'CONFIG_INVALID',
        "cache backend 'dht' needs the node to join a network (the `network` option of new Node)",
        { field: 'cache.backend' },
      );
    }
    const network = ctx.network;
    this.state.network = network;
    this.state.logger = ctx.logger.child({ component: 'dht-cache' });
    this.hadPeers = network.peers().length > 0;
    network.clock.toleranceMs = this.options.clockToleranceMs;
    const inv = this.invalidations;
    this.detach.push(network.onControl((msg, from) => inv.onControl(msg, from)));
    this.detach.push(
      network.sync.provide(SYNC_NAME, () => ({ ...this.state.rules.snapshot(), sent: Date.now() })),
    );
    const onJoin = () => {
      this.upkeep.schedule();
      // Heartbeats carry this node's clock to every member (the newcomer first): no beacon then.
      if (network.sendsHeartbeats) return;
      // Soon, and again once gossip subscriptions surely reached the newcomer.
      inv.scheduleBeacon(250);
      inv.scheduleBeacon(3_000);
    };
    const onLeave = () => this.upkeep.schedule();
    const onOnline = () => this.onOnline();
    // Notices of a member were missed (or it was forgotten): learn what it invalidated before serving
    // again; with nobody to learn from, drop what is held here.
    const onMissed = (peer: string) => {
      const reconcile = inv.pullRules(network, peer).then((pulled) => {
        if (!pulled) this.dropHeld('missed invalidation notices, and no member to learn them from');
      });
      void network.holdRecords(reconcile).catch(() => {});
    };
    const onOffline = () => {
      this.hadPeers = true;
    };
    network
      .on('peer:join', onJoin)
      .on('peer:leave', onLeave)
      .on('online', onOnline)
      .on('offline', onOffline)
      .on('missed', onMissed);
    this.detach.push(() =>
      network
        .off('peer:join', onJoin)
        .off('peer:leave', onLeave)
        .off('online', onOnline)
        .off('offline', onOffline)
        .off('missed', onMissed),
    );
    this.detach.push(
      network.addWriteFilter(
        (key, record) => record.deleted === true || !this.state.rules.invalidates(key, record.writtenAt),
      ),
    );
    this.upkeep.rebase(network.peers());
    this.sweepTimer = setInterval(() => {
      this.sweep();
      if (!network.sendsHeartbeats) inv.scheduleBeacon(0);
    }, this.options.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.invalidations.close();
    for (const off of this.detach.splice(0)) off();
    await Promise.allSettled([...this.pending, this.upkeep.close()]);
    this.writing.clear();
    this.state.network = undefined;
  }

  get(key: string): Promise<unknown> {
    return this.lookup(this.storedKey(key));
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    assertTtl(ttlSeconds, key);
    const k = this.storedKey(key);
    const record = newRecord(encodeValue(value), ttlSeconds, this.selfId());
    const network = this.requireNetwork();
    if (!network.started) return;
    const write = this.access.write(k, record, this.options.writeAck).then(() => {});
    if (!this.options.writeBehind) return write;
    this.writing.set(k, record);
    const done = write.finally(() => {
      if (this.writing.get(k) === record) this.writing.delete(k);
    });
    this.track(done);
  }

  async delete(key: string): Promise<boolean> {
    const k = this.storedKey(key);
    const network = this.requireNetwork();
    const started = network.started;
    const local = started ? network.dht.readLocal(k) : undefined;
    this.writing.delete(k);
    let existed = local !== undefined && local.deleted !== true && !isExpired(local);
    const deadline = this.state.signal(); // the lookup's bound (the tombstone gets its own)
    if (!existed && started) {
      // Looked up before the delete is broadcast: once it is, the holders drop their copies.
      const found = await this.access.read(k, deadline);
      existed = found !== undefined && found.deleted !== true && !isExpired(found);
    }
    // After the lookup: the clock has followed what it found (up to the tolerance), so the delete orders after it.
    const at = writeClock();
    this.invalidations.applyDelete(k, at);
    this.invalidations.broadcast({ c: 'dht', op: 'del', key: k, at });
    this.invalidations.notify({ op: 'delete', key: k, at, remote: false });
    if (!network.started) return existed;
    const tombstone: StoredRecord = {
      expiresAt: Date.now() + this.options.tombstoneTtlSeconds * 1000,
      writtenAt: at,
      writer: this.selfId(),
      deleted: true,
    };
    // Its own bound: a lookup that waited for a holder cut off moments ago must not leave the tombstone no time.
    const reach = await this.access.write(k, tombstone, 'all', this.state.signal());
    this.reaches.set(key, reach);
    // Asked right after the delete resolves: a short memory is enough.
    if (this.reaches.size > 1_000) this.reaches.delete(this.reaches.keys().next().value as string);
    if (reach.reached < reach.holders)
      this.state.logger?.warn(
        { key: k, reached: reach.reached, holders: reach.holders },
        'delete reached only some holders of the key: the others drop it when they are back in touch (their copies are not served meanwhile)',
      );
    return existed;
  }

  /** Drops every record held here (they may have been invalidated where this node could not hear). */
  private dropHeld(why: string): void {
    const network = this.state.network;
    if (network === undefined || !network.started) return;
    this.writing.clear();
    let local = 0;
    const dht = network.dht;
    for (const { key } of [...dht.localRecords()]) {
      dht.deleteLocal(key);
      local++;
    }
    this.state.logger?.info({ local, why }, 'dropped the records held here');
  }

  /** How many holders the last delete of `key` reached. */
  deleteReach(key: string): Reach | undefined {
    return this.reaches.get(key);
  }

  private readonly reaches = new Map<string, Reach>();

  /** Tags (docs/tags.md, ./tags.ts): the entry, the latest invalidation of its tag records, the tag clock. */
  getTagged(key: string): Promise<TaggedRead> {
    return this.tags.get(key);
  }

  /** Tags: stores `value` with the keys of its tag records. */
  setTagged(key: string, value: unknown, ttlSeconds: number, tagKeys: readonly string[]): Promise<void> {
    return this.tags.set(key, value, ttlSeconds, tagKeys);
  }

  /** Tags: writes each tag record (invalidated now) to its holders, kept `retentionSeconds`. */
  invalidateTags(tagKeys: readonly string[], retentionSeconds: number): Promise<void> {
    return this.tags.invalidate(tagKeys, retentionSeconds);
  }

  /** `coalesce: 'cluster'`: takes the lease at its first holder (src/network/leases.ts); true when taken. */
  acquireLease(leaseKey: string, token: string, ms: number): Promise<boolean> {
    return this.requireNetwork().leases.run('acquire', leaseKey, token, ms, this.operationTimeoutMs);
  }

  /** `coalesce: 'cluster'`: extends the lease while `token` holds it; false when it does not any more. */
  renewLease(leaseKey: string, token: string, ms: number): Promise<boolean> {
    return this.requireNetwork().leases.run('renew', leaseKey, token, ms, this.operationTimeoutMs);
  }

  async releaseLease(leaseKey: string, token: string): Promise<void> {
    await this.requireNetwork().leases.run('release', leaseKey, token, 0, this.operationTimeoutMs);
  }

  /** Resolves when the lease is released, after `ms`, or at once when its holder cannot be asked. */
  async waitLease(leaseKey: string, ms: number): Promise<void> {
    try {
      await this.requireNetwork().leases.run('wait', leaseKey, '', ms, this.operationTimeoutMs);
    } catch {
      // never rejects: the caller reads again and retries the lease
    }
  }

  /** Removes every key starting with `prefix` on every node; returns how many this node dropped. */
  clear(prefix?: string): number {
    return this.invalidations.invalidate({ prefix: this.storedKey(prefix ?? ''), at: writeClock() });
  }

  /** Removes the keys starting with `prefix` whose rest matches `pattern`, on every node; returns how many this node dropped. */
  revoke(prefix: string, pattern: string): number {
    compileGlob(pattern); // refuse a bad pattern before broadcasting it
    return this.invalidations.invalidate({ prefix: this.storedKey(prefix), pattern, at: writeClock() });
  }

  /** Calls `listener` after each invalidation (local or from another node) has been applied here; returns a remover. */
  onInvalidation(listener: (info: InvalidationInfo) => void): () => void {
    return this.invalidations.onInvalidation(listener);
  }

  /** Counters, and the records (values and tombstones) stored on this node. */
  stats(): DhtBackendStats {
    let stored = 0;
    const network = this.state.network;
    if (network?.started) for (const _ of network.dht.localRecords()) stored++;
    return { kind: 'dht', ...this.state.counters, stored };
  }

  /** Resolves when background writes and replication upkeep have settled (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending, this.upkeep.flush()]);
  }

  /** Removes expired records and passes records this node should not hold to their holders; runs every `sweepIntervalMs`. */
  sweep(now = Date.now()): void {
    this.upkeep.sweep(now);
  }

  // ---- internals ----

  private storedKey(key: string): string {
    return key.startsWith(this.prefix) ? key : this.prefix + key;
  }

  private selfId(): string {
    return this.requireNetwork().peerId;
  }

  private requireNetwork(): MeshNetwork {
    const network = this.state.network;
    if (network === undefined) throw new MeshError('NOT_STARTED', "cache backend 'dht' is not open");
    return network;
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    p.then(
      () => this.pending.delete(p),
      () => this.pending.delete(p),
    );
  }

  private async lookup(key: string): Promise<unknown> {
    return (await this.access.readEntry(key, this.writing))?.value;
  }

  /**
   * The `getWithTtl` capability: the value and how long its record still lives, so that
   * the generic near tier keeps a copy no longer than the DHT entry (record times are in
   * this node's clock: skewed writers' are re-based, see docs/dht.md "Clocks").
   */
  async getWithTtl(key: string): Promise<{ value: unknown; ttlMs: number } | undefined> {
    const entry = await this.access.readEntry(this.storedKey(key), this.writing);
    if (entry === undefined) return undefined;
    const ttlMs = entry.expiresAt === 0 ? Number.POSITIVE_INFINITY : entry.expiresAt - Date.now();
    return ttlMs > 0 ? { value: entry.value, ttlMs } : undefined;
  }

  /** Back after losing every peer: forget what may have been invalidated meanwhile, then learn what was. */
  private onOnline(): void {
    const network = this.state.network;
    if (network === undefined || !network.started) return;
    const returning = this.hadPeers;
    if (returning && this.options.dropOnRejoin) {
      this.state.counters.rejoins++;
      this.dropHeld('rejoined the network');
    }
    this.hadPeers = true;
    this.upkeep.rebase(network.peers());
    const pull = this.invalidations.pullRules(network);
    // Back after losing every peer: what is held here is not served before the deletes missed are known.
    if (returning) void network.holdRecords(pull).catch(() => {});
  }
}
