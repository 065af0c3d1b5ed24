/**
 * What a stored entry is worth: whether a backend's answer is one of ours
 * (`asEnvelope`, `readable`), and the one check of an entry's state (fresh,
 * stale, within grace, expired, or invalidated by one of its tags).
 */
import type { TaggedRead } from '../backends/backend.js';
import { CacheEnvelope } from './snapshot.js';

/**
 * `fresh`: answer it. `stale`: answer it and refresh it in the background.
 * `grace`: run the handler, the entry answers if it fails or is slow.
 * `expired`: a miss. `invalidated`: a tag of it was invalidated after it was computed (a miss).
 */
export type EntryState = 'fresh' | 'stale' | 'grace' | 'expired' | 'invalidated';

/**
 * The state of `envelope` now. `invalidatedAt`: the latest invalidation of its tags (tag
 * clock, 0: none); `staleTtl` and `grace`: the action's, for entries written without deadlines.
 */
export function entryState(
  envelope: CacheEnvelope,
  invalidatedAt: number,
  staleTtl: number,
  grace: number,
): EntryState {
  if (invalidatedAt > envelope.writtenAt) return 'invalidated';
  if (envelope.freshUntil === 0) return 'fresh';
  const now = Date.now();
  if (envelope.freshUntil > now) return 'fresh';
  // Entries written before staleUntil existed: stale for as long as the backend keeps them.
  const staleUntil = envelope.staleUntil !== 0 ? envelope.staleUntil : staleTtl > 0 ? Infinity : 0;
  if (staleUntil > now) return 'stale';
  return grace > 0 ? 'grace' : 'expired';
}

/** True for what a get may answer: a miss, our envelope, or its JSON round trip (else: a failed get). */
export function readable(value: unknown): boolean {
  return value === undefined || value === null || asEnvelope(value) !== undefined;
}

/** True for what a tagged get may answer: a readable value and a number for its tags' latest invalidation. */
export function readableTagged(read: unknown): boolean {
  return (
    read !== null &&
    typeof read === 'object' &&
    typeof (read as TaggedRead).invalidatedAt === 'number' &&
    readable((read as TaggedRead).value)
  );
}

/** Accepts what a backend returned: our envelope, or its JSON round trip. */
export function asEnvelope(value: unknown): CacheEnvelope | undefined {
  if (value instanceof CacheEnvelope) return value;
  if (
    value !== null &&
    typeof value === 'object' &&
    'value' in value &&
    typeof (value as { freshUntil?: unknown }).freshUntil === 'number'
  ) {
    const v = value as {
      value: unknown;
      freshUntil: number;
      staleUntil?: number;
      tags?: string[];
      writtenAt?: number;
    };
    return new CacheEnvelope(v.value, v.freshUntil, false, v.staleUntil ?? 0, v.tags, v.writtenAt ?? 0);
  }
  return undefined;
}
