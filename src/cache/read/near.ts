/**
 * The hit path of an action whose remote backend has a near tier: a
 * synchronous look into the tier first (a hit: no promise, no round trip, like
 * the memory backend), else the remote read, whose valid answer fills the tier
 * unless an invalidation of the key arrived while it was in flight (see
 * `NearTier.token`). Tagged copies keep their tag records: the tier indexes
 * them and drops them when one is invalidated.
 */
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import type { NearAction } from '../coherence/near-action.js';
import type { ActionCache } from './action-cache.js';
import { keyFor } from './action-key.js';
import { answerEntry } from './answer.js';
import { aside } from './aside.js';
import { type KeepCopy, readRemote } from './remote-read.js';
import { CacheEnvelope, deepCopy, snapshot } from './snapshot.js';

const DEBUG = 20;

export function nearLookup(ac: ActionCache, near: NearAction, next: ActionInvoker): ActionInvoker {
  const { stats, condition } = ac;
  const { tier, fastKeyOf, table } = near;
  const copyAll = ac.results === 'copy';
  // A backend that does not tell remaining lives leaves the tier alone (no copy may outlive its entry).
  const keeps = near.fillOnHit || ac.policies.tags !== undefined;
  return (ctx, params) => {
    // skipsCache (aside.ts) written out, as in memory.ts: the hit path's check, inline.
    if (ctx.cacheMode !== undefined || (condition !== undefined && !condition(params, ctx)))
      return aside(ac, ctx, params, next);
    const fastKey = fastKeyOf === undefined ? undefined : fastKeyOf(params);
    let key: string | undefined;
    let hit: unknown;
    if (fastKey !== undefined) hit = tier.getIn(table!, fastKey);
    else {
      key = keyFor(ac, ctx, params);
      if (key === undefined) return next(ctx, params);
      hit = tier.get(key);
    }
    if (hit !== undefined) {
      const envelope = hit as CacheEnvelope;
      // The memory fast path: no key string, no promise. Stale-capable entries and debug logs take the long way.
      if (envelope.freshUntil === 0 && ac.logger.levelVal > DEBUG) {
        stats.hits++;
        return envelope.copyOnRead || copyAll ? deepCopy(envelope.value) : envelope.value;
      }
      key ??= keyFor(ac, ctx, params);
      if (key === undefined) return next(ctx, params);
      return answerEntry(ac, envelope, key, ctx, params, next);
    }
    key ??= keyFor(ac, ctx, params);
    if (key === undefined) return next(ctx, params);
    return readRemote(ac, key, ctx, params, next, keeps ? keeper(near, key, params) : undefined);
  };
}

/** Fills the tier from a remote hit: a frozen (or private) copy, for at most the entry's remaining life. */
function keeper(near: NearAction, key: string, params: Params): KeepCopy {
  // Taken before the remote read: an invalidation arriving meanwhile refuses the fill.
  const token = near.tier.token();
  return (envelope, ttlMs) => {
    const s = snapshot(envelope.value);
    // Deadlines and tags kept: the copy answers as the remote entry would (stale, grace, tag index).
    const copy = new CacheEnvelope(
      s.value,
      envelope.freshUntil,
      !s.plain,
      envelope.staleUntil,
      envelope.tags,
      envelope.writtenAt,
    );
    near.fill(key, params, copy, ttlMs / 1000, token);
  };
}
