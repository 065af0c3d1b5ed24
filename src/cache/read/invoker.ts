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
 * This file chooses one lookup per action: memory.ts, near.ts or remote.ts,
 * which never import each other; each opens with the check of aside.ts
 * (written out in memory.ts and near.ts, where the call was not inlined).
 */
import type { ActionInvoker } from '../../node/interceptors.js';
import type { ActionCache } from './action-cache.js';
import { memoryLookup } from './memory.js';
import { nearLookup } from './near.js';
import { remoteLookup } from './remote.js';

/** Builds the invoker of a cached action. */
export function cachingInvoker(ac: ActionCache, next: ActionInvoker): ActionInvoker {
  if (ac.sync !== undefined) return memoryLookup(ac, ac.sync, next);
  return ac.near !== undefined ? nearLookup(ac, ac.near, next) : remoteLookup(ac, next);
}
