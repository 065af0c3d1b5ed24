/**
 * The DHT cache backend: entries live in the network's Kademlia DHT (one DHT
 * per network id), each on the `replication` peers closest to its key, with a
 * near cache in front on every node. Design and guarantees: docs/dht.md.
 *
 * - `set` stores `{ value, expiresAt, writtenAt, writer }` on the closest peers;
 *   conflicting writes resolve last-write-wins (`compareRecords`) when stored
 *   and when read.
 * - `get` serves the near cache, else a kad lookup; an expired, deleted or
 *   invalidated record, a failed or timed-out lookup: a miss.
 * - `delete` writes a tombstone; `delete`, `clear` and `revoke` are broadcast
 *   on the network's control topic and applied by every node to its near cache
 *   and to the records it stores; they are also remembered (dht-rules.ts) so
 *   that late writes and stale replicas stay dead.
 * - Upkeep re-replicates records when peers leave or join; a sweep removes
 *   expired records.
 */
import type { Logger } from 'pino';
import { decodeValue, encodeValue } from '../../codec/index.js';
import { MeshError } from '../../errors.js';
import {
  isExpired,
  type MeshDht,
  MeshNetwork,
  type StoredRecord,
  sortByDistance,
  writeClock,
} from '../../network/index.js';
import { compileGlob } from '../glob.js';
import { assertTtl } from '../ttl.js';
import type { BackendContext, BackendStats, CacheBackend } from './backend.js';
import { NearCache, shareable } from './dht-near-cache.js';
import { type DhtOptions, parseDhtOptions, type ResolvedDhtOptions } from './dht-options.js';
import { parseRuleLog, type Rule, RuleLog } from './dht-rules.js';
import { planUpkeep, runLimited } from './dht-upkeep.js';

export { type DhtOptions, dhtOptionsSchema } from './dht-options.js';

/** Control messages of the backend (published on the network's control topic). */
type Control = (
  | { c: 'dht'; op: 'put'; key: string; at: number }
  | { c: 'dht'; op: 'del'; key: string; at: number }
  | { c: 'dht'; op: 'rule'; prefix: string; pattern?: string; at: number }
  /** A clock beacon: lets the peers measure this node's clock offset before it writes anything. */
  | { c: 'dht'; op: 'clock'; at: number }
) & {
  /** The sender's wall clock when it sent the message (receivers measure its clock offset). */
  sent?: number;
};

/** Counters of the backend, beyond the caching layer's own. */
export interface DhtBackendStats extends BackendStats {
  nearHits: number;
  dhtHits: number;
  dhtMisses: number;
  lookupFailures: number;
  puts: number;
  putFailures: number;
  invalidationsReceived: number;
  handoffs: number;
  rejoins: number;
  /** Records (values and tombstones) stored on this node. */
  stored: number;
}

/** What an invalidation listener learns once an invalidation was applied on this node. */
export interface InvalidationInfo {
  readonly op: 'delete' | 'rule';
  readonly key?: string;
  readonly prefix?: string;
  readonly pattern?: string;
  /** Writer clock of the invalidation (records written before it are dead). */
  readonly at: number;
  /** True when it came from another node. */
  readonly remote: boolean;
}

const SYNC_NAME = 'dht-rules';
const UPKEEP_CONCURRENCY = 16;
const MAX_HANDOFF_ATTEMPTS = 5;

export class DhtBackend implements CacheBackend {
  readonly options: ResolvedDhtOptions;
  /** Every operation settles within this bound by itself (the caching layer then adds no timer). */
  readonly operationTimeoutMs: number;
  private readonly near: NearCache | undefined;
  private readonly rules: RuleLog;
  private network: MeshNetwork | undefined;
  private logger: Logger | undefined;
  private readonly detach: Array<() => void> = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly beaconTimers = new Map<number, NodeJS.Timeout>();
  private upkeepTimer: NodeJS.Timeout | undefined;
  private upkeepBase: Set<string> | undefined;
  private upkeepRunning: Promise<void> | undefined;
  private hadPeers = false;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly listeners = new Set<(info: InvalidationInfo) => void>();
  private readonly prefix: string;
  /** Near-cache hits (a plain field: it is bumped on the hot path). */
  private nearHits = 0;
  private readonly counters: Omit<DhtBackendStats, 'evictions' | 'entries' | 'stored' | 'nearHits'> = {
    dhtHits: 0,
    dhtMisses: 0,
    lookupFailures: 0,
    puts: 0,
    putFailures: 0,
    invalidationsReceived: 0,
    handoffs: 0,
    rejoins: 0,
  };

  constructor(options: DhtOptions = {}) {
    this.options = parseDhtOptions(options);
    this.prefix = this.options.prefix;
    this.operationTimeoutMs = this.options.opTimeoutMs;
    const nc = this.options.nearCache;
    this.near = nc.enabled ? new NearCache(nc.maxEntries, nc.maxAgeSeconds * 1000) : undefined;
    this.rules = new RuleLog(this.options.tombstoneTtlSeconds * 1000);
  }

  async open(ctx: BackendContext): Promise<void> {
    if (!(ctx.network instanceof MeshNetwork)) {
      throw new MeshError(
        'CONFIG_INVALID',
        "cache backend 'dht' needs the node to join a network (the `network` option of new Node)",
        {
          field: 'cache.backend',
        },
      );
    }
    const network = ctx.network;
    this.network = network;
    this.logger = ctx.logger.child({ component: 'dht-cache' });
    this.hadPeers = network.peers().length > 0;
    network.clock.toleranceMs = this.options.clockToleranceMs;
    this.detach.push(network.onControl((msg, from) => this.onControl(msg, from)));
    this.detach.push(network.sync.provide(SYNC_NAME, () => ({ ...this.rules.snapshot(), sent: Date.now() })));
    const onJoin = () => {
      this.scheduleUpkeep();
      // Soon, and again once gossip subscriptions surely reached the newcomer.
      this.scheduleBeacon(250);
      this.scheduleBeacon(3_000);
    };
    const onLeave = () => this.scheduleUpkeep();
    const onOnline = () => this.onOnline();
    const onOffline = () => {
      this.hadPeers = true;
    };
    network.on('peer:join', onJoin).on('peer:leave', onLeave).on('online', onOnline).on('offline', onOffline);
    this.detach.push(() =>
      network
        .off('peer:join', onJoin)
        .off('peer:leave', onLeave)
        .off('online', onOnline)
        .off('offline', onOffline),
    );
    this.detach.push(
      network.addWriteFilter(
        (key, record) => record.deleted === true || !this.rules.invalidates(key, record.writtenAt),
      ),
    );
    this.upkeepBase = new Set(network.peers());
    this.sweepTimer = setInterval(() => {
      this.sweep();
      this.scheduleBeacon(0);
    }, this.options.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    for (const t of this.beaconTimers.values()) clearTimeout(t);
    this.beaconTimers.clear();
    clearTimeout(this.upkeepTimer);
    for (const off of this.detach.splice(0)) off();
    await Promise.allSettled([...this.pending, this.upkeepRunning]);
    this.near?.clear();
    this.network = undefined;
  }

  get(key: string): unknown {
    // Every near-cache key starts with the prefix, so a key without it simply misses here.
    const hit = this.near?.get(key);
    if (hit !== undefined) {
      this.nearHits++;
      return hit.value;
    }
    return this.lookup(this.storedKey(key));
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    assertTtl(ttlSeconds, key);
    const k = this.storedKey(key);
    const now = Date.now();
    const record: StoredRecord = {
      value: encodeValue(value),
      expiresAt: ttlSeconds > 0 ? now + ttlSeconds * 1000 : 0,
      writtenAt: writeClock(),
      writer: this.selfId(),
    };
    this.near?.set(k, value, record.writtenAt, record.expiresAt, now);
    const network = this.requireNetwork();
    if (this.options.nearCache.announceWrites)
      this.broadcast({ c: 'dht', op: 'put', key: k, at: record.writtenAt });
    if (!network.started) return; // offline: the near cache keeps it until the node is back
    const write = this.replicate(k, record);
    if (this.options.writeBehind) {
      this.track(write);
      return;
    }
    await write;
  }

  async delete(key: string): Promise<boolean> {
    const k = this.storedKey(key);
    const network = this.requireNetwork();
    const started = network.started;
    const local = started ? network.dht.readLocal(k) : undefined;
    let existed =
      this.near?.has(k) === true || (local !== undefined && local.deleted !== true && !isExpired(local));
    const deadline = this.signal(); // one bound for the whole delete (lookup + tombstone)
    if (!existed && started) {
      // Looked up before the delete is broadcast: once it is, the holders drop their copies.
      const found = await this.fetch(network.dht, k, deadline);
      existed = found !== undefined && found.deleted !== true && !isExpired(found);
    }
    // After the lookup: the clock has followed what it found (up to the tolerance), so the delete orders after it.
    const at = writeClock();
    this.applyDelete(k, at);
    this.broadcast({ c: 'dht', op: 'del', key: k, at });
    this.notify({ op: 'delete', key: k, at, remote: false });
    if (!network.started) return existed;
    const tombstone: StoredRecord = {
      expiresAt: Date.now() + this.options.tombstoneTtlSeconds * 1000,
      writtenAt: at,
      writer: this.selfId(),
      deleted: true,
    };
    await this.replicate(k, tombstone, deadline);
    return existed;
  }

  /** Removes every key starting with `prefix` on every node; returns how many this node dropped. */
  clear(prefix?: string): number {
    return this.invalidate({ prefix: this.storedKey(prefix ?? ''), at: writeClock() });
  }

  /** Removes the keys starting with `prefix` whose rest matches `pattern`, on every node; returns how many this node dropped. */
  revoke(prefix: string, pattern: string): number {
    compileGlob(pattern); // refuse a bad pattern before broadcasting it
    return this.invalidate({ prefix: this.storedKey(prefix), pattern, at: writeClock() });
  }

  /** Calls `listener` after each invalidation (local or from another node) has been applied here; returns a remover. */
  onInvalidation(listener: (info: InvalidationInfo) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Counters and sizes (near cache entries, records stored on this node). */
  stats(): DhtBackendStats {
    let stored = 0;
    if (this.network?.started) for (const _ of this.network.dht.localRecords()) stored++;
    return {
      ...this.counters,
      nearHits: this.nearHits,
      evictions: this.near?.evictions ?? 0,
      entries: this.near?.size ?? 0,
      stored,
    };
  }

  /** Resolves when background writes and replication upkeep have settled (tests, shutdown). */
  async flush(): Promise<void> {
    if (this.upkeepTimer !== undefined) {
      clearTimeout(this.upkeepTimer);
      this.upkeepTimer = undefined;
      this.upkeepRunning = this.runUpkeep();
    }
    await Promise.allSettled([...this.pending, this.upkeepRunning]);
  }

  /** Removes expired records and passes records this node should not hold to their holders; runs every `sweepIntervalMs`. */
  sweep(now = Date.now()): void {
    this.rules.prune(now);
    const network = this.network;
    if (!network?.started) return;
    const dht = network.dht;
    for (const { key, record } of dht.localRecords()) {
      if (!isExpired(record, now)) continue;
      if (record.deleted === true) dht.deleteLocal(key);
      else {
        // An expired value becomes a tombstone for a while (it wins the tie), so an older copy elsewhere cannot win over it.
        dht.storeLocal(key, {
          ...record,
          value: undefined,
          deleted: true,
          expiresAt: now + this.options.tombstoneTtlSeconds * 1000,
        });
      }
    }
    // Records that reached this node from a peer with an older view of the membership, or whose
    // hand-off failed, are passed on to their holders (an upkeep pass with no membership change).
    if (this.upkeepTimer === undefined) this.scheduleUpkeep(0);
  }

  // ---- internals ----

  private storedKey(key: string): string {
    return key.startsWith(this.prefix) ? key : this.prefix + key;
  }

  private selfId(): string {
    return this.requireNetwork().peerId;
  }

  private requireNetwork(): MeshNetwork {
    if (this.network === undefined) throw new MeshError('NOT_STARTED', "cache backend 'dht' is not open");
    return this.network;
  }

  private signal(): AbortSignal {
    return AbortSignal.timeout(this.options.opTimeoutMs);
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    p.then(
      () => this.pending.delete(p),
      () => this.pending.delete(p),
    );
  }

  /** A kad lookup; undefined for a miss or a failure. */
  private async fetch(dht: MeshDht, key: string, signal = this.signal()): Promise<StoredRecord | undefined> {
    try {
      return await dht.get(key, signal);
    } catch (err) {
      this.counters.lookupFailures++;
      this.logger?.debug({ key, err: (err as Error).message }, 'dht lookup failed: a miss');
      return undefined;
    }
  }

  private async lookup(key: string): Promise<unknown> {
    const network = this.network;
    if (network === undefined || !network.started) return undefined;
    const record = await this.fetch(network.dht, key);
    const now = Date.now();
    if (
      record === undefined ||
      record.deleted === true ||
      isExpired(record, now) ||
      this.rules.invalidates(key, record.writtenAt)
    ) {
      this.counters.dhtMisses++;
      return undefined;
    }
    let value: unknown;
    try {
      value = shareable(decodeValue(record.value ?? ''));
    } catch (err) {
      this.counters.dhtMisses++;
      this.logger?.warn({ key, err: (err as Error).message }, 'unreadable value in the DHT: a miss');
      return undefined;
    }
    this.counters.dhtHits++;
    this.near?.set(key, value, record.writtenAt, record.expiresAt, now);
    return value;
  }

  /** Stores `record` on the `replication` closest peers (this node included when it is one of them). */
  private async replicate(key: string, record: StoredRecord, signal = this.signal()): Promise<void> {
    const dht = this.requireNetwork().dht;
    let closest: string[] = [];
    try {
      closest = await dht.closestPeers(key, signal);
    } catch (err) {
      this.logger?.debug(
        { key, err: (err as Error).message },
        'dht lookup of closest peers failed; using connected peers',
      );
      closest = this.network?.peers() ?? [];
    }
    const targets = sortByDistance(key, [...closest, dht.selfId]).slice(0, this.options.replication);
    const results = await Promise.all(
      targets.map((peer) =>
        dht.storeAt(peer, key, record, signal).catch((err: Error) => {
          this.logger?.debug({ key, peer, err: err.message }, 'dht put failed');
          return false;
        }),
      ),
    );
    const stored = results.filter(Boolean).length;
    this.counters.puts++;
    if (stored === 0) {
      // Nobody took it (all unreachable, or a newer record won everywhere): keep a local copy so the write is not lost.
      dht.storeLocal(key, record);
      this.counters.putFailures++;
    }
  }

  private broadcast(msg: Control): void {
    const network = this.network;
    if (network === undefined || !network.started) return;
    network
      .publishControl({ ...msg, sent: Date.now() } as unknown as Record<string, unknown>)
      .catch((err: Error) => {
        this.logger?.warn({ err: err.message }, 'invalidation broadcast failed');
      });
  }

  private invalidate(rule: Rule): number {
    const n = this.applyRule(rule);
    this.notify({ op: 'rule', ...rule, remote: false });
    this.broadcast({
      c: 'dht',
      op: 'rule',
      prefix: rule.prefix,
      ...(rule.pattern === undefined ? {} : { pattern: rule.pattern }),
      at: rule.at,
    });
    return n;
  }

  /**
   * Applies a delete (`at` in this node's clock) to the rule log, the near cache
   * and the local store. The first time this node learns of it, it applies to
   * what is held here even when written up to the clock tolerance after `at`
   * (a writer whose clock is ahead within the tolerance cannot outlive a delete
   * issued after its write); later records are ordered by timestamp.
   */
  private applyDelete(key: string, at: number): boolean {
    const fresh = this.rules.addDelete(key, at);
    const until = fresh ? at + this.options.clockToleranceMs : at;
    let dropped = this.near?.drop(key, until) === true;
    const dht = this.network?.started ? this.network.dht : undefined;
    const local = dht?.readLocal(key);
    if (dht !== undefined && local !== undefined && local.deleted !== true && local.writtenAt < until) {
      dht.deleteLocal(key);
      dropped = true;
    }
    return dropped;
  }

  /** Applies a clear/revoke rule; returns how many distinct keys this node dropped. */
  private applyRule(rule: Rule): number {
    const matches = this.rules.addRule(rule);
    if (matches === undefined) return 0;
    // New here: it applies to what is held, up to the clock tolerance after `at` (as a delete does).
    const until = rule.at + this.options.clockToleranceMs;
    const dropped = new Set(this.near?.dropMatching(matches, until) ?? []);
    if (this.network?.started) {
      const dht = this.network.dht;
      for (const { key, record } of [...dht.localRecords()]) {
        if (record.writtenAt < until && matches(key)) {
          dht.deleteLocal(key);
          if (record.deleted !== true) dropped.add(key);
        }
      }
    }
    return dropped.size;
  }

  private notify(info: InvalidationInfo): void {
    for (const listener of this.listeners) {
      try {
        listener(info);
      } catch (err) {
        this.logger?.warn({ err }, 'invalidation listener failed');
      }
    }
  }

  /** The shift that brings timestamps of `peer` into this node's clock (measured from `sent` when given). */
  private shiftFor(peer: string, sent: unknown): number {
    const clock = this.network?.clock;
    if (clock === undefined || peer === '') return 0;
    if (typeof sent === 'number') return clock.observe(peer, sent);
    return clock.shiftOf(peer) ?? 0;
  }

  private onControl(raw: Record<string, unknown>, from = ''): void {
    if (raw.c !== 'dht' || typeof raw.at !== 'number') return;
    // Timestamps of a peer whose clock is off are taken in this node's clock.
    const msg = { ...raw, at: raw.at + this.shiftFor(from, raw.sent) } as unknown as Control;
    switch (msg.op) {
      case 'put':
        if (typeof msg.key === 'string') this.near?.drop(msg.key, msg.at);
        return;
      case 'del':
        if (typeof msg.key !== 'string') return;
        this.counters.invalidationsReceived++;
        this.applyDelete(msg.key, msg.at);
        this.notify({ op: 'delete', key: msg.key, at: msg.at, remote: true });
        return;
      case 'rule':
        if (typeof msg.prefix !== 'string' || (msg.pattern !== undefined && typeof msg.pattern !== 'string'))
          return;
        this.counters.invalidationsReceived++;
        try {
          const rule: Rule = {
            prefix: msg.prefix,
            at: msg.at,
            ...(msg.pattern === undefined ? {} : { pattern: msg.pattern }),
          };
          this.applyRule(rule);
          this.notify({ op: 'rule', ...rule, remote: true });
        } catch (err) {
          this.logger?.warn({ err: (err as Error).message }, 'ignored a malformed invalidation');
        }
        return;
    }
  }

  /** Back after losing every peer: forget what may have been invalidated meanwhile, then learn what was. */
  private onOnline(): void {
    const network = this.network;
    if (network === undefined || !network.started) return;
    if (this.hadPeers && this.options.dropOnRejoin) {
      this.counters.rejoins++;
      const near = this.near?.clear() ?? 0;
      let local = 0;
      const dht = network.dht;
      for (const { key } of [...dht.localRecords()]) {
        dht.deleteLocal(key);
        local++;
      }
      this.logger?.info(
        { near, local },
        'rejoined the network: dropped the near cache and the records held here',
      );
    }
    this.hadPeers = true;
    this.upkeepBase = new Set(network.peers());
    void this.pullRules(network);
  }

  private async pullRules(network: MeshNetwork): Promise<void> {
    for (const peer of network.peers().slice(0, 2)) {
      try {
        const raw = await network.sync.pull(peer, SYNC_NAME, this.signal());
        const snap = parseRuleLog(raw);
        const shift = this.shiftFor(peer, (raw as { sent?: unknown } | undefined)?.sent);
        for (const [key, at] of snap.deletes) this.applyDelete(key, at + shift);
        for (const rule of snap.rules) this.applyRule({ ...rule, at: rule.at + shift });
        return;
      } catch (err) {
        this.logger?.debug({ peer, err: (err as Error).message }, 'could not pull the invalidation log');
      }
    }
  }

  /** Sends a clock beacon in `delayMs` (batched: a burst of joins sends one per delay). */
  private scheduleBeacon(delayMs: number): void {
    if (this.beaconTimers.has(delayMs)) return;
    const timer = setTimeout(() => {
      this.beaconTimers.delete(delayMs);
      this.broadcast({ c: 'dht', op: 'clock', at: Date.now() });
    }, delayMs);
    timer.unref();
    this.beaconTimers.set(delayMs, timer);
  }

  private scheduleUpkeep(delayMs = this.options.upkeepDelayMs): void {
    if (this.upkeepTimer !== undefined) return;
    this.upkeepTimer = setTimeout(() => {
      this.upkeepTimer = undefined;
      const previous = this.upkeepRunning ?? Promise.resolve();
      this.upkeepRunning = previous.then(() => this.runUpkeep());
    }, delayMs);
    this.upkeepTimer.unref();
  }

  /** Hand-offs that failed (peer busy or timed out): key -> peers still to reach, and attempts so far. */
  private retries = new Map<string, { peers: Set<string>; attempts: number }>();

  private async runUpkeep(): Promise<void> {
    const network = this.network;
    if (network === undefined || !network.started) return;
    const dht = network.dht;
    const now = new Set(network.peers());
    const before = this.upkeepBase ?? now;
    this.upkeepBase = now;
    const live = [...dht.localRecords()].filter((r) => !isExpired(r.record));
    const plan = planUpkeep(live, before, now, dht.selfId, this.options.replication);
    // Failed hand-offs of earlier passes, still relevant: the peer is a member and still a holder.
    const pending = this.retries;
    this.retries = new Map();
    const planned = new Map(plan.map((h) => [h.entry.key, h]));
    for (const entry of live) {
      const retry = pending.get(entry.key);
      if (retry === undefined) continue;
      const holders = sortByDistance(entry.key, [...now, dht.selfId]).slice(0, this.options.replication);
      const targets = [...retry.peers].filter((p) => now.has(p) && holders.includes(p));
      if (targets.length === 0) continue;
      const existing = planned.get(entry.key);
      const merged = {
        entry,
        targets: [...new Set([...(existing?.targets ?? []), ...targets])],
        dropAfter: !holders.includes(dht.selfId),
      };
      if (existing === undefined) plan.push(merged);
      else plan[plan.indexOf(existing)] = merged;
      planned.set(entry.key, merged);
    }
    if (plan.length === 0) return;
    let sent = 0;
    await runLimited(plan, UPKEEP_CONCURRENCY, async ({ entry, targets, dropAfter }) => {
      const results = await Promise.all(
        targets.map((p) => dht.storeAt(p, entry.key, entry.record, this.signal()).catch(() => false)),
      );
      sent += results.filter(Boolean).length;
      const failed = targets.filter((_, i) => !results[i]);
      if (failed.length === 0) {
        if (dropAfter && results.length > 0) dht.deleteLocal(entry.key);
        return;
      }
      const attempts = (pending.get(entry.key)?.attempts ?? 0) + 1;
      if (attempts <= MAX_HANDOFF_ATTEMPTS) this.retries.set(entry.key, { peers: new Set(failed), attempts });
    });
    this.counters.handoffs += sent;
    this.logger?.debug(
      { records: plan.length, sent, retrying: this.retries.size },
      'replication upkeep done',
    );
    if (this.retries.size > 0) this.scheduleUpkeep(Math.max(1000, this.options.upkeepDelayMs));
  }
}
