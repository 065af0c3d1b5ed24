/**
 * The near tier: an in-process copy (a MemoryBackend) of what a remote
 * backend holds, read synchronously before the remote backend is asked.
 *
 * Correctness rests on three rules:
 *
 * - A near copy never outlives the remote entry: it is stored for
 *   min(remaining remote ttl, `maxAgeSeconds`).
 * - Only while coherence is up (`live`): while the notification channel is down
 *   nothing is served nor stored, and it is flushed when it comes back (the
 *   notices sent meanwhile are lost).
 * - No fill after an invalidation it raced with: a reader takes a `token()`
 *   before it asks the remote backend, and `fill` refuses the value when the key
 *   (or a prefix, a pattern, a flush covering it, or one of its tag records) was
 *   invalidated since.
 *
 * Tagged copies (an envelope with `tags`, the keys of its tag records) are
 * indexed by tag record key: `delete(recordKey)` (a Redis tracking notice of
 * the record's write, a network notice, this node's own `invalidateTags`)
 * drops every near copy carrying it. The index holds only keys the store
 * holds: entries leave it on delete, eviction and expiry.
 */

import { CacheEnvelope } from '../../codec/envelope.js';
import type { FastTable } from '../backends/backend.js';
import { MemoryBackend } from '../backends/memory.js';
import type { Glob } from '../keys/glob.js';
import type { NearSettings } from '../setup/config.js';
import type { Change } from './change.js';

/** How the tier is kept coherent across nodes. */
export type NearMode = 'tracking' | 'pubsub' | 'bus' | 'local' | 'off';

/** Figures of one tier (`stats().near`). */
export interface NearStats {
  mode: NearMode;
  entries: number;
  hits: number;
  fills: number;
  invalidations: number;
  flushes: number;
  /** False while the coherence channel is down (nothing served from near). */
  live: boolean;
}

/** Past this many remembered key invalidations the tier forgets them all (and refuses in-flight fills). */
const MAX_REMEMBERED = 10_000;

export class NearTier {
  mode: NearMode;
  /** A plain field on the hot path; bumped on every near hit. */
  hits = 0;
  private readonly store: MemoryBackend;
  private readonly maxAgeSeconds: number;
  /** Coherence up: the tier may serve and be filled. */
  private live: boolean;
  /** Notices may have been lost since the tier last served: it starts again empty. */
  private lost: boolean;
  /** Counts invalidations; a reader's token is its value when the read started. */
  private clock = 0;
  /** `clock` at the last invalidation covering every key (flush, clear, revoke, coherence lost). */
  private broadAt = 0;
  /** `clock` at the last invalidation of each recently invalidated key. */
  private readonly invalidatedAt = new Map<string, number>();
  private fills = 0;
  private invalidations = 0;
  private flushes = 0;
  /** Tag record key -> the near keys whose copy carries it. */
  private readonly byTag = new Map<string, Set<string>>();
  /** Near key -> the tag record keys of its copy (only tagged copies). */
  private readonly tagsOf = new Map<string, readonly string[]>();
  private readonly maxEntries: number;

  constructor(settings: NearSettings, mode: NearMode, live = true) {
    this.store = new MemoryBackend({ maxEntries: settings.maxEntries, maxBytes: settings.maxBytes });
    // Capacity, bytes and expiry drops: the index follows the store.
    this.store.onEvict = (key) => {
      if (this.tagsOf.size > 0) this.unindex(key);
    };
    this.maxAgeSeconds = settings.maxAgeSeconds;
    this.maxEntries = settings.maxEntries;
    this.mode = mode;
    this.live = live;
    this.lost = !live;
  }

  /** The near copy of `key` (a CacheEnvelope), or undefined. Synchronous. */
  get(key: string): unknown {
    if (!this.live) return undefined;
    const v = this.store.get(key);
    if (v !== undefined) this.hits++;
    return v;
  }

  /** Like `get`, through a per-action index of raw key values (see `FastTable`). */
  getIn(table: FastTable, fastKey: number | string): unknown {
    if (!this.live) return undefined;
    const v = this.store.getIn(table, fastKey);
    if (v !== undefined) this.hits++;
    return v;
  }

  /** A new per-action index. */
  table(): FastTable {
    return this.store.table();
  }

  /** True when the tier holds an unexpired copy of `key` (diagnostics; counts no hit). */
  has(key: string): boolean {
    return this.live && this.store.has(key);
  }

  /** Taken before a remote read whose answer may fill the tier. */
  token(): number {
    return this.clock;
  }

  /**
   * Stores `value` for min(`remainingSeconds`, maxAgeSeconds) (Infinity or 0:
   * no remote expiry), unless `key` was invalidated since `token`.
   */
  fill(
    key: string,
    value: unknown,
    remainingSeconds: number,
    token: number,
    table?: FastTable,
    fastKey?: number | string,
  ): boolean {
    if (!this.live || token < this.broadAt) return false;
    const at = this.invalidatedAt.get(key);
    if (at !== undefined && at > token) return false;
    const tags = value instanceof CacheEnvelope ? value.tags : undefined;
    if (tags !== undefined) {
      for (const t of tags) {
        const tagAt = this.invalidatedAt.get(t);
        if (tagAt !== undefined && tagAt > token) return false;
      }
    }
    const remaining = remainingSeconds === 0 ? Number.POSITIVE_INFINITY : remainingSeconds;
    const ttl = Math.min(remaining, this.maxAgeSeconds);
    if (!(ttl > 0.001)) return false;
    if (this.tagsOf.size > 0) this.unindex(key); // the copy it replaces may carry other tags
    if (table !== undefined && fastKey !== undefined) this.store.setIn(table, fastKey, key, value, ttl);
    else this.store.set(key, value, ttl);
    if (tags !== undefined && tags.length > 0 && this.store.has(key)) this.index(key, tags);
    this.fills++;
    return true;
  }

  /**
   * Drops one key (a local write or delete, or a notice from another node); when `key` is
   * a tag record key, every near copy carrying it goes too.
   */
  delete(key: string): void {
    this.clock++;
    this.invalidations++;
    if (this.invalidatedAt.size >= MAX_REMEMBERED) {
      this.invalidatedAt.clear();
      this.broadAt = this.clock;
    }
    this.invalidatedAt.set(key, this.clock);
    this.store.delete(key);
    if (this.tagsOf.size === 0) return;
    this.unindex(key);
    const carrying = this.byTag.get(key);
    if (carrying === undefined) return;
    for (const k of [...carrying]) {
      this.store.delete(k);
      this.unindex(k);
    }
  }

  /** Applies a change (`scope`: a service scope, a tag record base for tags, '' for full keys). */
  apply(scope: string, change: Change): void {
    if (change.op === 'delete') for (const k of change.keys) this.delete(scope + k);
    else if (change.op === 'tags') for (const t of change.tags) this.delete(scope + t);
    else if (change.op === 'clear') this.clear(scope);
    else this.revoke(scope, change.glob);
  }

  /** Drops every key starting with `prefix`. */
  clear(prefix: string): void {
    this.broad();
    this.store.clear(prefix);
    this.pruneIndex();
  }

  /** Drops the keys under `prefix` whose rest matches `glob`. */
  revoke(prefix: string, glob: Glob): void {
    this.broad();
    this.store.revokeMatching(prefix, glob);
    this.pruneIndex();
  }

  /** Drops everything (a gap in the notices, a reconnection). */
  flush(): void {
    this.broad();
    this.flushes++;
    this.store.clear();
    this.byTag.clear();
    this.tagsOf.clear();
  }

  /** Tagged near copies held now (diagnostics and tests). */
  get taggedEntries(): number {
    return this.tagsOf.size;
  }

  private index(key: string, tags: readonly string[]): void {
    // A drop the store does not report (a fast-key slot taken over) could leave keys behind: bounded anyway.
    if (this.tagsOf.size >= this.maxEntries) this.pruneIndex();
    this.tagsOf.set(key, tags);
    for (const t of tags) {
      let set = this.byTag.get(t);
      if (set === undefined) {
        set = new Set();
        this.byTag.set(t, set);
      }
      set.add(key);
    }
  }

  private unindex(key: string): void {
    const tags = this.tagsOf.get(key);
    if (tags === undefined) return;
    this.tagsOf.delete(key);
    for (const t of tags) {
      const set = this.byTag.get(t);
      if (set === undefined) continue;
      set.delete(key);
      if (set.size === 0) this.byTag.delete(t);
    }
  }

  /** After a clear or revoke (the store reports no such drops): forgets the keys it no longer holds. */
  private pruneIndex(): void {
    for (const key of this.tagsOf.keys()) if (!this.store.has(key)) this.unindex(key);
  }

  /** The coherence channel is down (notices may have been lost): serve nothing, store nothing, until `up()`. */
  down(): void {
    this.live = false;
    if (this.lost) return;
    this.lost = true;
    this.flush();
  }

  /**
   * The channel cannot vouch for the copies for now, but lost nothing: they are
   * not served, and keep taking every invalidation, until `up()`.
   */
  pause(): void {
    this.live = false;
  }

  /** The coherence channel is back: after a loss, start again from an empty tier. */
  up(): void {
    if (this.lost) this.flush();
    this.lost = false;
    this.live = true;
  }

  get isLive(): boolean {
    return this.live;
  }

  stats(): NearStats {
    return {
      mode: this.mode,
      entries: this.store.size,
      hits: this.hits,
      fills: this.fills,
      invalidations: this.invalidations,
      flushes: this.flushes,
      live: this.live,
    };
  }

  close(): void {
    this.live = false;
    this.store.close();
    this.byTag.clear();
    this.tagsOf.clear();
  }

  private broad(): void {
    this.clock++;
    this.invalidations++;
    this.broadAt = this.clock;
    this.invalidatedAt.clear();
  }
}
