/**
 * The embedded default backend: an LRU cache with TTL, bounded by entries and
 * by (estimated) bytes.
 *
 * Layout: a `Map<key, slot>` plus parallel arrays indexed by slot (key, value,
 * expiry in a Float64Array, size in a Uint32Array, LRU links in Uint32Arrays),
 * so a hit is one Map lookup, one expiry compare and a few integer writes to
 * move the slot to the head of the LRU list, with no allocation. Slots are
 * reused through a free list; arrays grow by doubling up to `maxEntries`.
 * Expired entries are reclaimed when touched and by a background sweep that
 * visits a bounded number of slots per tick (the timer is `unref`'d).
 *
 * Why not the `lru-cache` package: the caching layer needs revoke by prefix and
 * pattern, an eviction hook for metrics, a byte estimate of arbitrary values and
 * an expiry clock that stays right while the event loop is blocked (clock.ts);
 * owning this file keeps the hit path exactly as lean as we measure it
 * (see BENCHMARKS.md: it matches or beats lru-cache with ttl).
 *
 * Capabilities (backend.ts): synchronous with secondary indexes, its own
 * revoke, key listing, statistics and eviction notices.
 */
import { MeshError } from '../../errors.js';
import { compileGlob, type Glob } from '../keys/glob.js';
import type { BackendStats, EvictionReason, FastTable, IndexedCacheBackend } from './backend.js';
import { wallNow } from './clock.js';
import { MEMORY_DEFAULTS, type MemoryBackendOptions } from './memory-options.js';
import { estimateSize } from './memory-size.js';
import { LruSlots } from './memory-slots.js';
import { assertTtl } from './ttl.js';

export type { EvictionReason, FastTable } from './backend.js';
export type { MemoryBackendOptions } from './memory-options.js';
export { estimateSize } from './memory-size.js';

const SWEEP_BATCH = 10_000;

/** In-process LRU + TTL store; the default `'memory'` backend. */
export class MemoryBackend extends LruSlots implements IndexedCacheBackend {
  /** Answers synchronously with the stored references: the caching layer stores snapshots in it (snapshot.ts). */
  readonly synchronous = true;
  /** Called when an entry is dropped by capacity, bytes or expiry. */
  onEvict: ((key: string, reason: EvictionReason) => void) | undefined;

  private readonly sizeOf: (value: unknown) => number;
  /** The clock; `wallNow` (see clock.ts) unless a test injects one (read inline on the hit path). */
  private readonly now: () => number;
  private readonly customClock: boolean;
  private readonly index = new Map<string, number>();
  private fastOf: (FastTable | undefined)[] = [];
  private fastKeyOf: (number | string | undefined)[] = [];
  private bytes = 0;
  private sweepCursor = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private evicted = 0;

  constructor(options: MemoryBackendOptions = {}) {
    const maxEntries = options.maxEntries ?? MEMORY_DEFAULTS.maxEntries;
    const maxBytes = options.maxBytes ?? MEMORY_DEFAULTS.maxBytes;
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new MeshError('CONFIG_INVALID', 'cache.memory.maxEntries must be an integer >= 1', {
        field: 'cache.memory.maxEntries',
      });
    if (!(maxBytes >= 0))
      throw new MeshError('CONFIG_INVALID', 'cache.memory.maxBytes must be >= 0', {
        field: 'cache.memory.maxBytes',
      });
    super(maxEntries, maxBytes);
    this.sizeOf = options.sizeOf ?? estimateSize;
    this.now = options.now ?? wallNow;
    this.customClock = options.now !== undefined;
    const sweep = options.sweepIntervalMs ?? MEMORY_DEFAULTS.sweepIntervalMs;
    if (sweep > 0) {
      this.sweepTimer = setInterval(() => this.sweep(SWEEP_BATCH), sweep);
      this.sweepTimer.unref();
    }
  }

  /** Entries held now (expired ones not yet reclaimed included). */
  get size(): number {
    return this.index.size;
  }

  /** Estimated bytes held (0 when there is no byte bound). */
  get totalBytes(): number {
    return this.bytes;
  }

  /** Entries dropped by capacity, bytes or expiry since creation. */
  get evictions(): number {
    return this.evicted;
  }

  get(key: string): unknown {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.touch(i);
  }

  /** A hit on slot i: drops it if expired, else moves it to the LRU head and returns its value. */
  private touch(i: number): unknown {
    const exp = this.expires[i];
    if (exp !== 0 && exp <= (this.customClock ? this.now() : wallNow())) {
      this.drop(i, 'expired');
      return undefined;
    }
    if (i !== this.head) this.toHead(i);
    return this.valList[i];
  }

  /** A new secondary index for one action (see `FastTable`). */
  table(): FastTable {
    return { map: new Map() };
  }

  /** Like `get`, through a secondary index. */
  getIn(table: FastTable, fastKey: number | string): unknown {
    const i = table.map.get(fastKey);
    return i === undefined ? undefined : this.touch(i);
  }

  /** Like `set`, also indexing the entry in `table` under `fastKey`. */
  setIn(table: FastTable, fastKey: number | string, key: string, value: unknown, ttlSeconds: number): void {
    this.set(key, value, ttlSeconds);
    const i = this.index.get(key);
    if (i === undefined) return;
    const old = this.fastOf[i];
    if (old !== undefined && (old !== table || this.fastKeyOf[i] !== fastKey))
      old.map.delete(this.fastKeyOf[i]!);
    const previous = table.map.get(fastKey);
    if (previous !== undefined && previous !== i) this.drop(previous, undefined);
    table.map.set(fastKey, i);
    this.fastOf[i] = table;
    this.fastKeyOf[i] = fastKey;
  }

  /** True when `key` holds an unexpired value (does not touch LRU order). */
  has(key: string): boolean {
    const i = this.index.get(key);
    if (i === undefined) return false;
    const exp = this.expires[i];
    return exp === 0 || exp > this.now();
  }

  set(key: string, value: unknown, ttlSeconds: number): void {
    assertTtl(ttlSeconds, key);
    const expiry = ttlSeconds > 0 ? this.now() + ttlSeconds * 1000 : 0;
    let size = 0;
    if (this.maxBytes > 0) {
      size = 48 + key.length * 2 + this.sizeOf(value);
      if (size > this.maxBytes) {
        this.delete(key);
        return;
      }
    }
    let i = this.index.get(key);
    if (i !== undefined) {
      this.valList[i] = value;
      this.expires[i] = expiry;
      if (this.maxBytes > 0) {
        this.bytes += size - this.sizes[i];
        this.sizes[i] = size;
      }
      if (i !== this.head) this.toHead(i);
    } else {
      if (this.index.size >= this.maxEntries) this.drop(this.tail, 'capacity');
      i = this.allocate();
      this.index.set(key, i);
      this.keyList[i] = key;
      this.valList[i] = value;
      this.expires[i] = expiry;
      if (this.maxBytes > 0) {
        this.sizes[i] = size;
        this.bytes += size;
      }
      this.linkHead(i);
    }
    while (this.maxBytes > 0 && this.bytes > this.maxBytes && this.tail !== i) this.drop(this.tail, 'bytes');
  }

  delete(key: string): boolean {
    const i = this.index.get(key);
    if (i === undefined) return false;
    const live = this.expires[i] === 0 || this.expires[i] > this.now();
    this.drop(i, undefined);
    return live;
  }

  clear(prefix?: string): number {
    if (prefix === undefined || prefix === '') {
      const n = this.countLive();
      this.reset();
      return n;
    }
    let n = 0;
    const now = this.now();
    for (const [key, i] of this.index) {
      if (!key.startsWith(prefix)) continue;
      if (this.expires[i] === 0 || this.expires[i] > now) n++;
      this.drop(i, undefined);
    }
    return n;
  }

  *keys(prefix = ''): IterableIterator<string> {
    const now = this.now();
    for (const [key, i] of this.index) {
      if (key.startsWith(prefix) && (this.expires[i] === 0 || this.expires[i] > now)) yield key;
    }
  }

  /** The `revoke` capability: the compiled glob is matched here, with no key listing. */
  revoke(prefix: string, pattern: string, glob: Glob = compileGlob(pattern)): number {
    return this.revokeMatching(prefix, glob);
  }

  /** The `stats` capability. */
  stats(): BackendStats {
    return { kind: 'memory', entries: this.index.size, evictions: this.evicted, bytes: this.bytes };
  }

  /** The `onEviction` capability (same as setting `onEvict`). */
  onEviction(listener: (key: string, reason: EvictionReason) => void): void {
    this.onEvict = listener;
  }

  /** Removes live keys under `prefix` whose remainder matches `glob`. */
  revokeMatching(prefix: string, glob: Glob): number {
    let n = 0;
    const now = this.now();
    const start = prefix + glob.literalPrefix;
    for (const [key, i] of this.index) {
      if (!key.startsWith(start) || !glob.test(key.slice(prefix.length))) continue;
      if (this.expires[i] === 0 || this.expires[i] > now) n++;
      this.drop(i, undefined);
    }
    return n;
  }

  close(): void {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.reset();
  }

  /** Reclaims expired entries among up to `budget` slots; returns how many were removed. */
  sweep(budget: number): number {
    if (this.used === 0) return 0;
    const now = this.now();
    let removed = 0;
    for (let n = 0; n < budget && n < this.used; n++) {
      const i = this.sweepCursor;
      this.sweepCursor = (this.sweepCursor + 1) % this.used;
      const exp = this.expires[i];
      if (this.keyList[i] !== undefined && exp !== 0 && exp <= now) {
        this.drop(i, 'expired');
        removed++;
      }
    }
    return removed;
  }

  private countLive(): number {
    let n = 0;
    const now = this.now();
    for (const i of this.index.values()) if (this.expires[i] === 0 || this.expires[i] > now) n++;
    return n;
  }

  private reset(): void {
    for (const t of new Set(this.fastOf)) t?.map.clear();
    this.fastOf = [];
    this.fastKeyOf = [];
    this.index.clear();
    this.resetSlots();
    this.bytes = 0;
    this.sweepCursor = 0;
  }

  private drop(i: number, reason: EvictionReason | undefined): void {
    const key = this.keyList[i]!;
    this.unlink(i);
    this.index.delete(key);
    this.keyList[i] = undefined;
    this.valList[i] = undefined;
    this.expires[i] = 0;
    const fast = this.fastOf[i];
    if (fast !== undefined) {
      if (fast.map.get(this.fastKeyOf[i]!) === i) fast.map.delete(this.fastKeyOf[i]!);
      this.fastOf[i] = undefined;
      this.fastKeyOf[i] = undefined;
    }
    if (this.maxBytes > 0) {
      this.bytes -= this.sizes[i];
      this.sizes[i] = 0;
    }
    this.free.push(i);
    if (reason !== undefined) {
      this.evicted++;
      this.onEvict?.(key, reason);
    }
  }
}
