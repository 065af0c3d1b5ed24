/** The full key of a call (`<scope><action key>`), built by the action's compiled key builder. */
import type { RequestContext } from '../../node/context.js';
import type { Params } from '../../node/types.js';
import type { ActionCache } from './action-cache.js';

/** The full key, or undefined (counted and warned) when the action's key builder throws. */
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
