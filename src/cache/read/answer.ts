/**
 * Answers a call from what a backend or a near tier returned: a hit (handler
 * not called), a stale hit (answered, refreshed in the background once), a
 * grace miss (the handler runs; its failure or slowness gets the old value)
 * or a miss. The entry's state comes from the one check in entry.ts.
 */
import type { RequestContext } from '../../node/context.js';
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import type { ActionCache } from './action-cache.js';
import { asEnvelope, entryState } from './entry.js';
import { withGrace } from './grace.js';
import { countMiss, handOut, miss, startRun } from './miss.js';
import { type CacheEnvelope, deepCopy } from './snapshot.js';

const DEBUG = 20;

/** Called with an entry that no tag invalidated, before it answers (the near tier keeps a copy). */
export type OnValid = (envelope: CacheEnvelope) => void;

/**
 * Answers from what a remote get returned (nothing, our envelope, or something else:
 * a failed get). `readAt`, `invalidatedAt`: the tag clock and the tags' latest invalidation, from a tagged read.
 */
export function answer(
  ac: ActionCache,
  value: unknown,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  readAt?: number,
  invalidatedAt = 0,
  onValid?: OnValid,
): unknown {
  if (value === undefined || value === null) return miss(ac, key, ctx, params, next, readAt);
  const envelope = asEnvelope(value);
  if (envelope === undefined) {
    ac.stats.errors++;
    ac.guard.failed('get', new TypeError(`backend returned a value the cache did not write for ${key}`));
    return miss(ac, key, ctx, params, next, readAt);
  }
  return answerEntry(ac, envelope, key, ctx, params, next, readAt, invalidatedAt, onValid);
}

/** Answers from an entry: by its state (fresh, stale, grace, expired, invalidated by a tag). */
export function answerEntry(
  ac: ActionCache,
  envelope: CacheEnvelope,
  /** Undefined on an indexed hit (the key string was never built): built only when needed. */
  key: string | undefined,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  readAt?: number,
  /** The tags' latest invalidation as the backend told it; else the process-local records are asked. */
  invalidatedAt?: number,
  onValid?: OnValid,
): unknown {
  const stats = ac.stats;
  const local = ac.policies.tags?.local;
  const tagsAt =
    invalidatedAt ?? (envelope.tags !== undefined && local !== undefined ? local.latest(envelope.tags) : 0);
  const state = entryState(envelope, tagsAt, ac.staleTtl, ac.policies.grace);
  if (state === 'invalidated') {
    stats.tagMisses++;
    return miss(ac, key ?? fullKey(ac, params, ctx), ctx, params, next, readAt);
  }
  onValid?.(envelope);
  if (state === 'grace' || state === 'expired') {
    const k = key ?? fullKey(ac, params, ctx);
    if (state === 'grace') return graceMiss(ac, envelope, k, ctx, params, next, readAt);
    return miss(ac, k, ctx, params, next, readAt);
  }
  if (state === 'stale') {
    stats.staleHits++;
    const k = key ?? fullKey(ac, params, ctx);
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
    countMiss(ac, key);
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
