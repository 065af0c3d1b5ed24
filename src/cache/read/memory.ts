/**
 * The hit path of an action on a synchronous backend (the memory backend, or
 * any backend declaring `synchronous: true`): no promise on a hit, and a
 * secondary index (the raw key param) when the backend offers one.
 */
import type { RequestContext } from '../../node/context.js';
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import type { SyncCacheBackend } from '../backends/backend.js';
import type { ActionCache } from './action-cache.js';
import { answerEntry } from './answer.js';
import { aside } from './aside.js';
import { miss } from './miss.js';
import { CacheEnvelope, deepCopy } from './snapshot.js';

const DEBUG = 20;

export function memoryLookup(ac: ActionCache, backend: SyncCacheBackend, next: ActionInvoker): ActionInvoker {
  const { stats, logger, fastKeyOf, fastTable, indexed, condition } = ac;
  const scope = ac.service.scope;
  const keyOf = ac.keyOf;
  const plainFrozen = ac.results === 'frozen';
  return (ctx, params) => {
    // skipsCache (aside.ts) written out: the call was not inlined here, and cost 5% of a hit
    // (bench/before-after.ts, memory hit 0.171 -> 0.156 µs).
    if (ctx.cacheMode !== undefined || (condition !== undefined && !condition(params, ctx)))
      return aside(ac, ctx, params, next);
    const fastKey = fastKeyOf === undefined ? undefined : fastKeyOf(params);
    let key: string | undefined;
    let value: unknown;
    const started = (stats.tick++ & 15) === 0 ? performance.now() : 0; // startSample(), written out likewise
    try {
      if (fastKey !== undefined) value = indexed!.getIn(fastTable!, fastKey);
      else {
        key = scope + keyOf(params, ctx);
        value = backend.get(key);
      }
    } catch (err) {
      return failed(ac, err, key, ctx, params, next);
    }
    if (started !== 0) ac.onLatency('get', performance.now() - started);
    if (value !== undefined) {
      if (value instanceof CacheEnvelope) return answerEntry(ac, value, key, ctx, params, next);
      stats.hits++;
      if (logger.levelVal <= DEBUG) logger.debug(`Cache hit: ${keyOf(params, ctx)}`);
      return plainFrozen ? value : deepCopy(value);
    }
    return miss(ac, key ?? scope + keyOf(params, ctx), ctx, params, next);
  };
}

/** The key could not be built (the call skips the cache), or a synchronous backend threw (the memory backend never does). */
function failed(
  ac: ActionCache,
  err: unknown,
  key: string | undefined,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
): unknown {
  if (key === undefined) ac.stats.bypassed++;
  else {
    ac.stats.errors++;
    ac.guard.failed('get', err);
  }
  return next(ctx, params);
}
