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
import type { FastTable, IndexedCacheBackend, SyncCacheBackend, TaggedRead } from './backends/backend.js';
import type { GuardedBackend } from './guard.js';
import type { FastKey, KeyBuilder } from './keys.js';
import type { ActionStats } from './metrics.js';
import { nearInvoker } from './near/invoker.js';
import type { NearAction } from './near/tier.js';
import { type ClusterCoalescing, clusterSingleFlight } from './policies/coalesce.js';
import { decideTtl, withGrace } from './policies/grace.js';
import type { TtlFunction } from './policies/resolve.js';
import { CacheEnvelope, deepCopy, snapshot } from './snapshot.js';
import { type ActionTags, TAG_RETENTION_SECONDS } from './tags/tags.js';

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
  /** Issue 11 policies (src/cache/policies, src/cache/tags). */
  readonly policies: ActionPolicies;
}

/** The policies of one action, as the interceptor uses them. */
export interface ActionPolicies {
  /** Seconds an expired entry is kept past ttl + staleTtl to answer when the handler fails (0: off). */
  readonly grace: number;
  readonly softTimeoutMs: number;
  /** Adaptive TTL; when set, `ActionCache.ttl` is unused. */
  readonly ttlOf: TtlFunction | undefined;
  /** Set for a tagged action. */
  readonly tags: ActionTags | undefined;
  /** Set for `coalesce: 'cluster'` on a backend with leases. */
  readonly cluster: ClusterCoalescing | undefined;
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

/** A tagged action on a backend that keeps tag records: value and tag records in one round trip. */
function taggedGet(
  ac: ActionCache,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  started: number,
): unknown {
  let found: unknown;
  try {
    found = ac.guard.run('get', (b) => b.getTagged!(key), readableTagged);
  } catch {
    ac.stats.errors++;
    return miss(ac, key, ctx, params, next);
  }
  return Promise.resolve(found).then(
    (read) => {
      if (started !== 0) ac.onLatency('get', performance.now() - started);
      const { value, invalidatedAt, now } = read as TaggedRead;
      const envelope = value === undefined || value === null ? undefined : asEnvelope(value);
      if (envelope !== undefined && invalidatedAt > envelope.writtenAt) {
        ac.stats.tagMisses++;
        return miss(ac, key, ctx, params, next, now);
      }
      if (value === undefined || value === null) return miss(ac, key, ctx, params, next, now);
      return afterGet(ac, value, key, ctx, params, next, now);
    },
    () => {
      ac.stats.errors++;
      return miss(ac, key, ctx, params, next);
    },
  );
}

function readableTagged(read: unknown): boolean {
  return (
    read !== null &&
    typeof read === 'object' &&
    typeof (read as TaggedRead).invalidatedAt === 'number' &&
    readable((read as TaggedRead).value)
  );
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

function release(ac: ActionCache, key: string, p: Promise<Shared>): void {
  if (ac.inflight.get(key) === p) ac.inflight.delete(key);
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
  readAt?: number,
): Promise<Shared> {
  const current = () => ac.inflight.get(key) === run;
  const cluster = ac.policies.cluster;
  const run: Promise<Shared> =
    cluster === undefined || ctx.cacheMode === 'refresh'
      ? runAndStore(ac, key, ctx, params, next, current, replacing, readAt)
      : clusterSingleFlight(
          cluster,
          key,
          ctx,
          () => runAndStore(ac, key, ctx, params, next, current, replacing, readAt),
          () => readStored(ac, key),
          () => ac.stats.coalesced++,
        );
  ac.inflight.set(key, run);
  run.then(
    () => release(ac, key, run),
    () => release(ac, key, run),
  );
  return run;
}

/** `coalesce: 'cluster'`: the fresh value another node stored meanwhile, or undefined. */
async function readStored(ac: ActionCache, key: string): Promise<Shared | undefined> {
  let value: unknown;
  if (ac.policies.tags !== undefined && ac.policies.tags.local === undefined) {
    const read = (await ac.guard.run('get', (b) => b.getTagged!(key), readableTagged)) as TaggedRead;
    const env = read.value === undefined || read.value === null ? undefined : asEnvelope(read.value);
    if (env !== undefined && read.invalidatedAt > env.writtenAt) return undefined;
    value = read.value;
  } else value = await ac.guard.run('get', (b) => b.get(key), readable);
  if (value === undefined || value === null) return undefined;
  const env = asEnvelope(value);
  if (env === undefined || (env.freshUntil !== 0 && env.freshUntil <= Date.now())) return undefined;
  const shared = snapshot(env.value);
  return { value: shared.value, plain: shared.plain && !env.copyOnRead };
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
  readAt?: number,
): Promise<Shared> {
  const generation = ac.service.generation;
  const nearToken = ac.near?.tier.token();
  const policies = ac.policies;
  const tags = policies.tags;
  // Tagged: the tag clock before the handler reads its data (the read that missed, else now).
  const writtenAt = tags === undefined ? 0 : (readAt ?? tags.local?.now() ?? Date.now() * 1000);
  const result = await next(ctx, params);
  const shared = snapshot(result);
  if (ac.service.generation !== generation || !current()) return shared;
  let fresh = ac.ttl;
  if (policies.ttlOf !== undefined) {
    const decided = decideTtl(policies.ttlOf, result, params, ctx, ac.logger);
    if (decided === undefined) return shared;
    fresh = decided;
  }
  let tagKeys: string[] | undefined;
  if (tags !== undefined) {
    tagKeys = tags.of(params, result, ctx);
    if (tagKeys === undefined) return shared;
    // A tagged entry never outlives the tag records that can invalidate it.
    if (fresh === 0 || fresh > TAG_RETENTION_SECONDS) fresh = TAG_RETENTION_SECONDS;
  }
  const staleTtl = fresh > 0 ? ac.staleTtl : 0;
  const grace = fresh > 0 ? policies.grace : 0;
  const stale = staleTtl > 0 || grace > 0;
  let ttl = stale ? fresh + staleTtl + grace : fresh;
  if (tags !== undefined && ttl > TAG_RETENTION_SECONDS) ttl = TAG_RETENTION_SECONDS;
  const now = Date.now();
  const stored =
    ac.sync !== undefined && shared.plain && !stale && tagKeys === undefined && result !== undefined
      ? shared.value
      : new CacheEnvelope(
          shared.value,
          stale ? now + fresh * 1000 : 0,
          !shared.plain,
          stale ? now + (fresh + staleTtl) * 1000 : 0,
          tagKeys,
          writtenAt,
        );
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
    await ac.guard.run('set', (b) =>
      tagKeys !== undefined ? b.setTagged!(key, stored, ttl, tagKeys) : b.set(key, stored, ttl),
    );
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
