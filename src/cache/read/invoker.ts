/**
 * The caching invoker of an action: the innermost link of its chain.
 *
 * hit  -> the stored value, handler not called
 * miss -> the handler runs once per key however many callers wait (single
 *         flight, miss.ts); its result is stored, then handed to every waiter;
 *         an error reaches every waiter and is never stored
 * stale (past `ttl`, within `staleTtl`) -> the stale value at once, and one
 *         background call refreshes the entry (answer.ts)
 *
 * Nothing a backend does can fail a call the handler alone would serve: backend
 * errors and timeouts are counted, logged by the guard, and the call falls
 * through to the handler.
 *
 * This file chooses one lookup per action and runs the check every call
 * shares (`cache: 'bypass' | 'refresh'`, `condition`); the lookups (memory.ts,
 * near.ts, remote.ts) never import each other.
 */
import type { RequestContext } from '../../node/context.js';
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import type { ActionCache } from './action-cache.js';
import { keyFor } from './action-key.js';
import { memoryLookup } from './memory.js';
import { handOut, startRun } from './miss.js';
import { nearLookup } from './near.js';
import { remoteLookup } from './remote.js';

/** Builds the invoker of a cached action. */
export function cachingInvoker(ac: ActionCache, next: ActionInvoker): ActionInvoker {
  const lookup =
    ac.sync !== undefined
      ? memoryLookup(ac, ac.sync, next)
      : ac.near !== undefined
        ? nearLookup(ac, ac.near, next)
        : remoteLookup(ac, next);
  const condition = ac.condition;
  if (condition === undefined)
    return (ctx, params) =>
      ctx.cacheMode === undefined ? lookup(ctx, params) : aside(ac, ctx, params, next);
  return (ctx, params) =>
    ctx.cacheMode === undefined && condition(params, ctx)
      ? lookup(ctx, params)
      : aside(ac, ctx, params, next);
}

/** A call that does not read the cache: `refresh` runs the handler and stores; `bypass` and a false `condition` skip it. */
function aside(ac: ActionCache, ctx: RequestContext, params: Params, next: ActionInvoker): unknown {
  if (ctx.cacheMode === 'refresh') {
    const key = keyFor(ac, ctx, params);
    // Registered as the key's in-flight call: an older miss still running must not overwrite it.
    if (key !== undefined) return startRun(ac, key, ctx, params, next).then((s) => handOut(ac, s));
  }
  ac.stats.bypassed++;
  return next(ctx, params);
}
