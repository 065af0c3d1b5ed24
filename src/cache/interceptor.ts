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
import type { Logger } from 'pino';
import type { RequestContext } from '../node/context.js';
import type { ActionInvoker } from '../node/interceptors.js';
import type { Params } from '../node/types.js';
import type { FastTable, IndexedCacheBackend, SyncCacheBackend } from './backends/backend.js';
import type { GuardedBackend } from './guard.js';
import type { FastKey, KeyBuilder } from './keys.js';
import type { ActionStats } from './metrics.js';
import { nearInvoker } from './near/invoker.js';
import type { NearAction } from './near/tier.js';
import { CacheEnvelope, deepCopy, snapshot } from './snapshot.js';

/** How results are handed out: frozen shared copies (default) or a fresh copy per call. */
export type ResultMode = 'frozen' | 'copy';

/** The cache state of one service. */
export interface ServiceCache {
  readonly name: string;
  /** `<prefix><networkId>/<service>/`: every key of the service starts with it. */
  readonly scope: string;
  /** Bumped by every invalidation: a miss that started before one does not store its result. */
  generation: number;
  readonly actions: Map<string, ActionCache>;
  readonly guards: Set<GuardedBackend>;
}

/** The resolved cache settings and state of one action. */
export interface ActionCache {
  readonly service: ServiceCache;
  readonly name: string;
  readonly ttl: number;
  readonly staleTtl: number;
  readonly results: ResultMode;
  readonly guard: GuardedBackend;
  /** Set when the backend is synchronous (the promise-free path). */
  readonly sync: SyncCacheBackend | undefined;
  /** Set when the backend is synchronous, offers secondary indexes and the action has a fast key. */
  readonly indexed: IndexedCacheBackend | undefined;
  readonly keyOf: KeyBuilder;
  /** Indexed backends only: the raw key param value indexing the entry (see `FastTable`). */
  readonly fastKeyOf: FastKey | undefined;
  readonly fastTable: FastTable | undefined;
  readonly condition: ((params: any, ctx: RequestContext) => boolean) | undefined;
  readonly stats: ActionStats;
  readonly inflight: Map<string, Promise<Shared>>;
  readonly logger: Logger;
  readonly onLatency: (op: string, ms: number) => void;
  /** Set when a near tier sits in front of a remote backend (src/cache/near/). */
  readonly near?: NearAction;
  /** Told of a write that replaced a value (a refresh): other nodes drop their copies. */
  readonly replaced?: (key: string) => void;
}

/** A result as shared between the callers of one miss. */
export interface Shared {
  readonly value: unknown;
  readonly plain: boolean;
}

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
      if (value instanceof CacheEnvelope)
        return envelopeHit(ac, value, key ?? scope + keyOf(params, ctx), ctx, params, next);
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

/** True for what a get may answer: a miss, our envelope, or its JSON round trip (else: a failed get). */
export function readable(value: unknown): boolean {
  return value === undefined || value === null || asEnvelope(value) !== undefined;
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
    const v = value as { value: unknown; freshUntil: number };
    return new CacheEnvelope(v.value, v.freshUntil, false);
  }
  return undefined;
}

export function afterGet(
  ac: ActionCache,
  value: unknown,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
): unknown {
  if (value === undefined || value === null) return miss(ac, key, ctx, params, next);
  const envelope = asEnvelope(value);
  if (envelope === undefined) {
    ac.stats.errors++;
    ac.guard.failed('get', new TypeError(`backend returned a value the cache did not write for ${key}`));
    return miss(ac, key, ctx, params, next);
  }
  return envelopeHit(ac, envelope, key, ctx, params, next);
}

export function envelopeHit(
  ac: ActionCache,
  envelope: CacheEnvelope,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
): unknown {
  const stats = ac.stats;
  if (envelope.freshUntil !== 0 && envelope.freshUntil <= Date.now()) {
    if (ac.staleTtl <= 0) return miss(ac, key, ctx, params, next);
    stats.staleHits++;
    if (!ac.inflight.has(key)) {
      startRun(ac, key, ctx, params, next).then(
        () => undefined,
        (err) => {
          ac.logger.warn(
            { err, key },
            'background refresh of a stale cache entry failed; the stale value stays until it expires',
          );
        },
      );
    }
  }
  stats.hits++;
  if (ac.logger.levelVal <= DEBUG) ac.logger.debug(`Cache hit: ${key.slice(ac.service.scope.length)}`);
  const v = envelope.value;
  return envelope.copyOnRead || ac.results === 'copy' ? deepCopy(v) : v;
}

function release(ac: ActionCache, key: string, p: Promise<Shared>): void {
  if (ac.inflight.get(key) === p) ac.inflight.delete(key);
}

export function miss(
  ac: ActionCache,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
): Promise<unknown> {
  const pending = ac.inflight.get(key);
  if (pending !== undefined) {
    ac.stats.coalesced++;
    return pending.then((s) => handOut(ac, s));
  }
  ac.stats.misses++;
  if (ac.logger.levelVal <= DEBUG) ac.logger.debug(`Cache miss: ${key.slice(ac.service.scope.length)}`);
  return startRun(ac, key, ctx, params, next, false).then((s) => handOut(ac, s));
}

/**
 * Runs the handler as the key's in-flight call (later misses join it). A call
 * that is no longer the key's in-flight call when the handler answers (an
 * invalidation cleared it, or a refresh started after it) does not store.
 */
function startRun(
  ac: ActionCache,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  replacing = true,
): Promise<Shared> {
  const run: Promise<Shared> = runAndStore(
    ac,
    key,
    ctx,
    params,
    next,
    () => ac.inflight.get(key) === run,
    replacing,
  );
  ac.inflight.set(key, run);
  run.then(
    () => release(ac, key, run),
    () => release(ac, key, run),
  );
  return run;
}

/** Calls the handler and stores its result (unless an invalidation or a newer call happened meanwhile). */
async function runAndStore(
  ac: ActionCache,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  current: () => boolean,
  replacing: boolean,
): Promise<Shared> {
  const generation = ac.service.generation;
  const nearToken = ac.near?.tier.token();
  const result = await next(ctx, params);
  const shared = snapshot(result);
  if (ac.service.generation !== generation || !current()) return shared;
  const stale = ac.staleTtl > 0 && ac.ttl > 0;
  const ttl = stale ? ac.ttl + ac.staleTtl : ac.ttl;
  const stored =
    ac.sync !== undefined && shared.plain && !stale && result !== undefined
      ? shared.value
      : new CacheEnvelope(shared.value, stale ? Date.now() + ac.ttl * 1000 : 0, !shared.plain);
  if (ac.sync !== undefined) {
    const fastKey = ac.fastKeyOf === undefined ? undefined : ac.fastKeyOf(params);
    try {
      if (fastKey !== undefined) ac.indexed!.setIn(ac.fastTable!, fastKey, key, stored, ttl);
      else ac.sync.set(key, stored, ttl);
      ac.stats.stores++;
      if (replacing) ac.replaced?.(key);
    } catch (err) {
      ac.stats.errors++;
      ac.guard.failed('set', err);
    }
    return shared;
  }
  if (!ac.guard.available) return shared;
  const started = performance.now();
  try {
    await ac.guard.run('set', (b) => b.set(key, stored, ttl));
    ac.onLatency('set', performance.now() - started);
    ac.stats.stores++;
    // This node's own write: its near tier is updated here (Redis NOLOOP does not echo it back).
    if (ac.near !== undefined && ac.service.generation === generation)
      ac.near.fill(key, params, stored, ttl, nearToken!);
    if (replacing || ac.near?.announceWrites) ac.replaced?.(key);
  } catch {
    ac.stats.errors++;
  }
  return shared;
}
