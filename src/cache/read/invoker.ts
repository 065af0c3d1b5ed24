/**
 * The caching interceptor: the innermost link of every cached action's chain.
 *
 * hit  -> the stored value, handler not called
 * miss -> the handler runs once per key however many callers wait (request
 *         coalescing); its result is stored, then handed to every waiter; an
 *         error reaches every waiter and is never stored
 * stale (past `ttl`, within `staleTtl`) -> the stale value at once, and one
 *         background call refreshes the entry
 *
 * Nothing a backend does can fail a call the handler alone would serve: backend
 * errors and timeouts are counted, logged by the guard, and the call falls
 * through to the handler.
 *
 * Two invokers are compiled per action: one for synchronous backends (the
 * memory backend, or any backend declaring `synchronous: true`: no promise on a
 * hit, and a secondary index when the backend offers one) and one for any other backend.
 */
import type { RequestContext } from '../../node/context.js';
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import type { SyncCacheBackend } from '../backends/backend.js';
import type { ActionCache, Shared } from './action-cache.js';
import { withGrace } from './grace.js';
import { asEnvelope, readable, startRun } from './miss.js';
import { nearInvoker } from './near.js';
import { taggedGet } from './remote-read.js';
import { CacheEnvelope, deepCopy } from './snapshot.js';

export type { ActionCache, ActionPolicies, ResultMode, ServiceCache, Shared } from './action-cache.js';
export { asEnvelope, readable } from './miss.js';

const DEBUG = 20;

function handOut(ac: ActionCache, shared: Shared): unknown {
  return shared.plain && ac.results === 'frozen' ? shared.value : deepCopy(shared.value);
}

/** Builds the invoker of a cached action. */
export function cachingInvoker(ac: ActionCache, next: ActionInvoker): ActionInvoker {
  if (ac.sync !== undefined) return syncInvoker(ac, ac.sync, next);
  return ac.near !== undefined ? nearInvoker(ac, ac.near, next) : backendInvoker(ac, next);
}

export function keyFor(ac: ActionCache, ctx: RequestContext, params: Params): string | undefined {
  try {
    return ac.service.scope + ac.keyOf(params, ctx);
  } catch (err) {
    ac.stats.errors++;
    ac.logger.warn(
      { err, path: ctx.path },
      'cache key could not be built; calling the handler without caching',
    );
    return undefined;
  }
}

export function special(ac: ActionCache, ctx: RequestContext, params: Params, next: ActionInvoker): unknown {
  if (ctx.cacheMode === 'refresh') {
    const key = keyFor(ac, ctx, params);
    // Registered as the key's in-flight call: an older miss still running must not overwrite it.
    if (key !== undefined) return startRun(ac, key, ctx, params, next).then((s) => handOut(ac, s));
  }
  ac.stats.bypassed++;
  return next(ctx, params);
}

function syncInvoker(ac: ActionCache, backend: SyncCacheBackend, next: ActionInvoker): ActionInvoker {
  const { stats, logger, condition, fastKeyOf, fastTable, indexed } = ac;
  const scope = ac.service.scope;
  const keyOf = ac.keyOf;
  const plainFrozen = ac.results === 'frozen';
  return (ctx, params) => {
    if (ctx.cacheMode !== undefined || (condition !== undefined && !condition(params, ctx))) {
      return special(ac, ctx, params, next);
    }
    const fastKey = fastKeyOf === undefined ? undefined : fastKeyOf(params);
    let key: string | undefined;
    let value: unknown;
    const sample = (stats.tick++ & 15) === 0;
    const t = sample ? performance.now() : 0;
    try {
      if (fastKey !== undefined) value = indexed!.getIn(fastTable!, fastKey);
      else {
        key = scope + keyOf(params, ctx);
        value = backend.get(key);
      }
    } catch (err) {
      return syncFailure(ac, err, key, ctx, params, next);
    }
    if (sample) ac.onLatency('get', performance.now() - t);
    if (value !== undefined) {
      if (value instanceof CacheEnvelope) return envelopeHit(ac, value, key, ctx, params, next);
      stats.hits++;
      if (logger.levelVal <= DEBUG) logger.debug(`Cache hit: ${keyOf(params, ctx)}`);
      return plainFrozen ? value : deepCopy(value);
    }
    return miss(ac, key ?? scope + keyOf(params, ctx), ctx, params, next);
  };
}

/** A synchronous backend threw (the memory backend never does), or the key could not be built. */
function syncFailure(
  ac: ActionCache,
  err: unknown,
  key: string | undefined,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
): unknown {
  if (key === undefined) return special(ac, ctx, params, next);
  ac.stats.errors++;
  ac.guard.failed('get', err);
  return next(ctx, params);
}

function backendInvoker(ac: ActionCache, next: ActionInvoker): ActionInvoker {
  const { guard, condition, stats } = ac;
  return (ctx, params) => {
    if (ctx.cacheMode !== undefined || (condition !== undefined && !condition(params, ctx))) {
      return special(ac, ctx, params, next);
    }
    // The key first: `available` may hand this call the trial after a cool-down, which must lead to an operation.
    const key = keyFor(ac, ctx, params);
    if (key === undefined) return next(ctx, params);
    if (!guard.available) {
      stats.bypassed++;
      return next(ctx, params);
    }
    const started = (stats.tick++ & 15) === 0 ? performance.now() : 0;
    if (ac.policies.tags !== undefined && ac.policies.tags.local === undefined)
      return taggedGet(ac, key, ctx, params, next, started);
    let found: unknown;
    try {
      found = guard.run('get', (b) => b.get(key), readable);
    } catch {
      stats.errors++;
      return miss(ac, key, ctx, params, next);
    }
    if (found instanceof Promise) {
      return found.then(
        (value) => {
          if (started !== 0) ac.onLatency('get', performance.now() - started);
          return afterGet(ac, value, key, ctx, params, next);
        },
        () => {
          stats.errors++;
          return miss(ac, key, ctx, params, next);
        },
      );
    }
    return afterGet(ac, found, key, ctx, params, next);
  };
}

export function afterGet(
  ac: ActionCache,
  value: unknown,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  readAt?: number,
): unknown {
  if (value === undefined || value === null) return miss(ac, key, ctx, params, next, readAt);
  const envelope = asEnvelope(value);
  if (envelope === undefined) {
    ac.stats.errors++;
    ac.guard.failed('get', new TypeError(`backend returned a value the cache did not write for ${key}`));
    return miss(ac, key, ctx, params, next, readAt);
  }
  return envelopeHit(ac, envelope, key, ctx, params, next, readAt);
}

export function envelopeHit(
  ac: ActionCache,
  envelope: CacheEnvelope,
  /** Undefined on an indexed hit (the key string was never built): built only when needed. */
  key: string | undefined,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  readAt?: number,
): unknown {
  const stats = ac.stats;
  if (envelope.tags !== undefined) {
    const local = ac.policies.tags?.local;
    if (local !== undefined && local.latest(envelope.tags) > envelope.writtenAt) {
      stats.tagMisses++;
      return miss(ac, key ?? fullKey(ac, params, ctx), ctx, params, next);
    }
  }
  if (envelope.freshUntil !== 0) {
    const now = Date.now();
    if (envelope.freshUntil <= now) {
      const k = key ?? fullKey(ac, params, ctx);
      // Entries written before staleUntil existed: stale for as long as the backend keeps them.
      const staleUntil = envelope.staleUntil !== 0 ? envelope.staleUntil : ac.staleTtl > 0 ? Infinity : 0;
      if (staleUntil <= now) {
        if (ac.policies.grace > 0) return graceMiss(ac, envelope, k, ctx, params, next, readAt);
        return miss(ac, k, ctx, params, next, readAt);
      }
      stats.staleHits++;
      if (!ac.inflight.has(k)) {
        startRun(ac, k, ctx, params, next, true, readAt).then(
          () => undefined,
          (err) => {
            ac.logger.warn(
              { err, key: k },
              'background refresh of a stale cache entry failed; the stale value stays until it expires',
            );
          },
        );
      }
    }
  }
  stats.hits++;
  if (ac.logger.levelVal <= DEBUG) ac.logger.debug(`Cache hit: ${ac.keyOf(params, ctx)}`);
  return envelopeValue(ac, envelope);
}

function fullKey(ac: ActionCache, params: Params, ctx: RequestContext): string {
  return ac.service.scope + ac.keyOf(params, ctx);
}

function envelopeValue(ac: ActionCache, envelope: CacheEnvelope): unknown {
  const v = envelope.value;
  return envelope.copyOnRead || ac.results === 'copy' ? deepCopy(v) : v;
}

/** Past the stale window, within grace: the handler runs; its failure or slowness gets the stale value. */
function graceMiss(
  ac: ActionCache,
  envelope: CacheEnvelope,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  readAt: number | undefined,
): Promise<unknown> {
  let pending = ac.inflight.get(key);
  if (pending !== undefined) ac.stats.coalesced++;
  else {
    ac.stats.misses++;
    if (ac.logger.levelVal <= DEBUG) ac.logger.debug(`Cache miss: ${key.slice(ac.service.scope.length)}`);
    pending = startRun(ac, key, ctx, params, next, true, readAt);
  }
  return withGrace(
    { stats: ac.stats, logger: ac.logger, softTimeoutMs: ac.policies.softTimeoutMs },
    key,
    ctx,
    pending,
    (s) => handOut(ac, s),
    () => envelopeValue(ac, envelope),
  );
}

export function miss(
  ac: ActionCache,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  readAt?: number,
): Promise<unknown> {
  const pending = ac.inflight.get(key);
  if (pending !== undefined) {
    ac.stats.coalesced++;
    return pending.then((s) => handOut(ac, s));
  }
  ac.stats.misses++;
  if (ac.logger.levelVal <= DEBUG) ac.logger.debug(`Cache miss: ${key.slice(ac.service.scope.length)}`);
  return startRun(ac, key, ctx, params, next, false, readAt).then((s) => handOut(ac, s));
}
