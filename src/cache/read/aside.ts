/**
 * The check every lookup opens with: a call that does not read the cache
 * (`cache: 'bypass' | 'refresh'` on the request, or the action's `condition`
 * false) and what happens to it. Each lookup calls it first (a call per
 * lookup keeps each lookup's own call sites monomorphic on the hit path).
 */
import type { RequestContext } from '../../node/context.js';
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import type { ActionCache } from './action-cache.js';
import { keyFor } from './action-key.js';
import { handOut, startRun } from './miss.js';

/** True when this call does not read the cache. */
export function skipsCache(
  ctx: RequestContext,
  params: Params,
  condition: ActionCache['condition'],
): boolean {
  return ctx.cacheMode !== undefined || (condition !== undefined && !condition(params, ctx));
}

/** A call that does not read the cache: `refresh` runs the handler and stores; `bypass` and a false `condition` skip it. */
export function aside(ac: ActionCache, ctx: RequestContext, params: Params, next: ActionInvoker): unknown {
  if (ctx.cacheMode === 'refresh') {
    const key = keyFor(ac, ctx, params);
    // Registered as the key's in-flight call: an older miss still running must not overwrite it.
    if (key !== undefined) return startRun(ac, key, ctx, params, next).then((s) => handOut(ac, s));
  }
  ac.stats.bypassed++;
  return next(ctx, params);
}
