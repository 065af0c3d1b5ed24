/** The hit path of an action on a remote backend without a near tier: every lookup asks the backend. */
import type { ActionInvoker } from '../../node/interceptors.js';
import type { ActionCache } from './action-cache.js';
import { keyFor } from './action-key.js';
import { aside, skipsCache } from './aside.js';
import { readRemote } from './remote-read.js';

export function remoteLookup(ac: ActionCache, next: ActionInvoker): ActionInvoker {
  const { condition } = ac;
  return (ctx, params) => {
    if (skipsCache(ctx, params, condition)) return aside(ac, ctx, params, next);
    // The key first: `available` may hand this call the trial after a cool-down, which must lead to an operation.
    const key = keyFor(ac, ctx, params);
    if (key === undefined) return next(ctx, params);
    return readRemote(ac, key, ctx, params, next);
  };
}
