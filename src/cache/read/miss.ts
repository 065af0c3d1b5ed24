/**
 * The miss path: runs the handler as the key's in-flight call, so concurrent
 * misses of a key share one run (single flight; with `coalesce: 'cluster'`,
 * once across the nodes), decides the entry's TTL, tags and envelope, and
 * stores it in the backend (and the near tier). A run that an invalidation
 * fenced off (see coherence/fence.ts) answers its callers but does not store.
 */
import type { RequestContext } from '../../node/context.js';
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import type { TaggedRead } from '../backends/backend.js';
import { TAG_RETENTION_SECONDS } from '../coherence/tag-records.js';
import type { ActionCache, Shared } from './action-cache.js';
import { clusterSingleFlight } from './cluster-flight.js';
import { asEnvelope, entryState, readable, readableTagged } from './entry.js';
import { CacheEnvelope, deepCopy, snapshot } from './snapshot.js';

const DEBUG = 20;

/** A shared result as one caller gets it: the frozen copy itself, or a copy of its own. */
export function handOut(ac: ActionCache, shared: Shared): unknown {
  return shared.plain && ac.results === 'frozen' ? shared.value : deepCopy(shared.value);
}

/** A miss: joins the key's running call, or starts one (`readAt`: the tag clock of the read that missed). */
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
  countMiss(ac, key);
  return startRun(ac, key, ctx, params, next, false, readAt).then((s) => handOut(ac, s));
}

/** Counts (and at debug level logs) a miss that starts a run. */
export function countMiss(ac: ActionCache, key: string): void {
  ac.stats.misses++;
  if (ac.logger.levelVal <= DEBUG) ac.logger.debug(`Cache miss: ${key.slice(ac.service.scope.length)}`);
}

function release(ac: ActionCache, key: string, p: Promise<Shared>): void {
  if (ac.inflight.get(key) === p) ac.inflight.delete(key);
}

/**
 * Runs the handler as the key's in-flight call (later misses join it). A call
 * that is no longer the key's in-flight call when the handler answers (an
 * invalidation cleared it, or a refresh started after it) does not store.
 */
export function startRun(
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
  let invalidatedAt = 0;
  if (ac.policies.tags !== undefined && ac.policies.tags.local === undefined) {
    const read = (await ac.guard.run('get', (b) => b.getTagged!(key), readableTagged)) as TaggedRead;
    value = read.value;
    invalidatedAt = read.invalidatedAt;
  } else value = await ac.guard.run('get', (b) => b.get(key), readable);
  if (value === undefined || value === null) return undefined;
  const env = asEnvelope(value);
  // Only a fresh value ends the wait: a stale one would be refreshed by this very run.
  if (env === undefined || entryState(env, invalidatedAt, 0, 0) !== 'fresh') return undefined;
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
    // A tagged one is dropped instead: another node's invalidation may have reached us between
    // the read that missed and `nearToken`, unseen by the tier; its next read (records checked) fills it.
    if (ac.near !== undefined && tagKeys !== undefined) ac.near.tier.delete(key);
    else if (ac.near !== undefined && ac.service.generation === generation)
      ac.near.fill(key, params, stored, ttl, nearToken!);
    if (replacing || ac.near?.announceWrites) ac.replaced?.(key);
  } catch {
    ac.stats.errors++;
  }
  return shared;
}

/**
 * Adaptive TTL: the TTL `ttlOf` gives a result, or undefined ("do not cache this one",
 * with a warning) when it throws or gives anything but a finite number >= 0.
 */
function decideTtl(
  ttlOf: (result: unknown, params: any, ctx: RequestContext) => number,
  result: unknown,
  params: unknown,
  ctx: RequestContext,
  logger: ActionCache['logger'],
): number | undefined {
  let ttl: unknown;
  try {
    ttl = ttlOf(result, params, ctx);
  } catch (err) {
    logger.warn({ err, path: ctx.path }, 'cache ttl function threw; this result is not cached');
    return undefined;
  }
  if (typeof ttl === 'number' && Number.isFinite(ttl) && ttl >= 0) return ttl;
  logger.warn(
    { path: ctx.path, ttl: typeof ttl === 'number' ? ttl : String(ttl) },
    'cache ttl function did not return a finite number of seconds >= 0; this result is not cached',
  );
  return undefined;
}
