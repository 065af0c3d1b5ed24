/**
 * The caching invoker of an action whose remote backend has a near tier: a
 * synchronous look into the tier first (a hit: no promise, no round trip, like
 * the memory backend), else the remote read, whose answer fills the tier unless
 * an invalidation of the key arrived while it was in flight (see `NearTier.token`).
 * A tagged action reads through `getTagged` (value and tag records together); a
 * valid answer fills the tier, which indexes the copy by its tag records.
 */
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import type { NearAction } from '../coherence/near-tier.js';
import {
  type ActionCache,
  afterGet,
  asEnvelope,
  envelopeHit,
  keyFor,
  miss,
  readable,
  special,
} from './invoker.js';
import { taggedGet } from './remote-read.js';
import { CacheEnvelope, deepCopy, snapshot } from './snapshot.js';

type Entry = { value: unknown; ttlMs: number } | undefined;

function readableEntry(e: Entry): boolean {
  return e === undefined || e === null || (typeof e === 'object' && readable(e.value));
}

/** Fills the tier from a remote hit: a frozen (or private) copy, for at most the entry's remaining ttl. */
function fill(near: NearAction, key: string, params: Params, entry: Entry, token: number): unknown {
  if (entry === undefined || entry === null) return undefined;
  const envelope = asEnvelope(entry.value);
  if (envelope !== undefined) {
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
    near.fill(key, params, copy, entry.ttlMs / 1000, token);
  }
  return entry.value;
}

const DEBUG = 20;

export function nearInvoker(ac: ActionCache, near: NearAction, next: ActionInvoker): ActionInvoker {
  const { guard, condition, stats } = ac;
  const { tier, fillOnHit, fastKeyOf, table } = near;
  const copyAll = ac.results === 'copy';
  const tagged = ac.policies.tags !== undefined;
  return (ctx, params) => {
    if (ctx.cacheMode !== undefined || (condition !== undefined && !condition(params, ctx))) {
      return special(ac, ctx, params, next);
    }
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
      return envelopeHit(ac, envelope, key, ctx, params, next);
    }
    key ??= keyFor(ac, ctx, params);
    if (key === undefined) return next(ctx, params);
    if (!guard.available) {
      stats.bypassed++;
      return next(ctx, params);
    }
    const started = (stats.tick++ & 15) === 0 ? performance.now() : 0;
    const token = tier.token();
    if (tagged) {
      const k = key;
      return taggedGet(ac, key, ctx, params, next, started, (read) => {
        // A backend that does not tell the remaining life leaves the tier alone (no copy may outlive it).
        if (read.ttlMs !== undefined) fill(near, k, params, { value: read.value, ttlMs: read.ttlMs }, token);
      });
    }
    let found: unknown;
    const k = key;
    try {
      found = fillOnHit
        ? guard.run('get', (b) => b.getWithTtl!(k) as Promise<Entry>, readableEntry)
        : guard.run('get', (b) => b.get(k), readable);
    } catch {
      stats.errors++;
      return miss(ac, key, ctx, params, next);
    }
    return Promise.resolve(found).then(
      (answer) => {
        if (started !== 0) ac.onLatency('get', performance.now() - started);
        const value = fillOnHit ? fill(near, key, params, answer as Entry, token) : answer;
        return afterGet(ac, value, key, ctx, params, next);
      },
      () => {
        stats.errors++;
        return miss(ac, key, ctx, params, next);
      },
    );
  };
}
