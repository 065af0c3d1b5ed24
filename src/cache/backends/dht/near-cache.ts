/**
 * The near cache: a bounded in-memory copy of DHT entries on each node, so a
 * repeated hit costs no network round trip. It is kept coherent by the
 * invalidations broadcast over the network (see dht-rules.ts): a delete, clear
 * or revoke drops the matching entries, a newer write elsewhere drops the older
 * copy. Eviction is "second chance" (CLOCK): a hit only sets a flag, so the hit
 * path is one Map lookup and one compare, with no reordering.
 */

import { wallNow } from '../../clock.js';
import { CacheEnvelope, snapshot } from '../../snapshot.js';

export interface NearEntry {
  value: unknown;
  /** Epoch ms after which the entry is gone (Infinity: never). */
  readonly expiresAt: number;
  /** The record's writtenAt (ordering against invalidations). */
  readonly writtenAt: number;
  used: boolean;
}

export class NearCache {
  private readonly map = new Map<string, NearEntry>();
  evictions = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The live entry for `key` (marks it used), or undefined. The clock is `wallNow` (clock.ts). */
  get(key: string, now = wallNow()): NearEntry | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      this.map.delete(key);
      return undefined;
    }
    if (!e.used) e.used = true;
    return e;
  }

  /** True when a live entry exists (without marking it used). */
  has(key: string, now = Date.now()): boolean {
    const e = this.map.get(key);
    return e !== undefined && e.expiresAt > now;
  }

  /** Stores a value read from or written to the DHT; an existing newer entry is kept. */
  set(key: string, value: unknown, writtenAt: number, recordExpiresAt: number, now = Date.now()): void {
    const current = this.map.get(key);
    if (current !== undefined && current.writtenAt > writtenAt) return;
    let expiresAt = recordExpiresAt === 0 ? Number.POSITIVE_INFINITY : recordExpiresAt;
    if (this.maxAgeMs > 0) expiresAt = Math.min(expiresAt, now + this.maxAgeMs);
    if (expiresAt <= now) return;
    if (current !== undefined) this.map.delete(key);
    this.map.set(key, { value, expiresAt, writtenAt, used: false });
    if (this.map.size > this.maxEntries) this.evictOne();
  }

  /** Drops `key` if its entry was written before `before` (all entries when omitted); true if one was dropped. */
  drop(key: string, before = Number.POSITIVE_INFINITY): boolean {
    const e = this.map.get(key);
    if (e === undefined || e.writtenAt >= before) return false;
    return this.map.delete(key);
  }

  /** Drops every entry whose key matches and that was written before `before`; returns the dropped keys. */
  dropMatching(matches: (key: string) => boolean, before: number, now = Date.now()): string[] {
    const out: string[] = [];
    for (const [key, e] of this.map) {
      if (e.writtenAt < before && matches(key)) {
        this.map.delete(key);
        // An entry past its expiry was already gone for readers: removed, not counted.
        if (e.expiresAt > now) out.push(key);
      }
    }
    return out;
  }

  clear(): number {
    const n = this.map.size;
    this.map.clear();
    return n;
  }

  private evictOne(): void {
    // Second chance: skip (and clear) recently used entries, at most one full pass.
    for (const [key, e] of this.map) {
      this.map.delete(key);
      if (!e.used) {
        this.evictions++;
        return;
      }
      e.used = false;
      this.map.set(key, e);
    }
  }
}

/**
 * Makes a value decoded from the DHT safe to hand out many times from the near
 * cache: the caching layer's envelopes get a frozen copy of plain data (or are
 * marked copy-on-read), like the memory backend's entries.
 */
export function shareable(value: unknown): unknown {
  if (!(value instanceof CacheEnvelope)) return value;
  const shared = snapshot(value.value);
  return new CacheEnvelope(shared.value, value.freshUntil, !shared.plain);
}
