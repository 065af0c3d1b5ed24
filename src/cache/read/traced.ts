/**
 * The invoker of a cached action with an OpenTelemetry span per call (`cache
 * user/get_user`), carrying what the cache did (`meshcache.cache.outcome`:
 * hit, miss, stale, grace or bypass), the backend, and the action key when
 * `cache.tracing.keys` is on. Installed around the chosen lookup only when an
 * SDK is registered at start: without one the hit path is the plain lookup.
 *
 * The outcome is taken where the lookups count it: the lookup is given the
 * action's state with counters that, besides counting, mark the span active
 * in the call's context. Stats and spans therefore cannot disagree, and the
 * lookups stay unaware of tracing. This needs a context manager (every SDK
 * setup registers one) for the counts made after a remote backend answers.
 */
import { context, type Span, type Tracer, trace } from '@opentelemetry/api';
import type { RequestContext } from '../../node/context.js';
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import { BACKEND_ATTRIBUTE, endFailed } from '../backends/traced-guard.js';
import type { ActionStats } from '../operations/metrics.js';
import type { ActionCache } from './action-cache.js';
import { cachingInvoker } from './invoker.js';

export type Outcome = 'hit' | 'miss' | 'stale' | 'grace' | 'bypass';

export const OUTCOME_ATTRIBUTE = 'meshcache.cache.outcome';
export const KEY_ATTRIBUTE = 'meshcache.cache.key';

/** What each counter says of a call, and how strongly: a stale hit also counts a hit; a grace answer, a miss first. */
const MARKS = new Map<string | symbol, readonly [Outcome, number]>([
  ['hits', ['hit', 1]],
  ['misses', ['miss', 1]],
  ['coalesced', ['miss', 1]],
  ['bypassed', ['bypass', 1]],
  ['staleHits', ['stale', 2]],
  ['graceHits', ['grace', 3]],
]);

/** The spans of calls still running, with the rank of the outcome they carry (0: none yet). */
const open = new WeakMap<Span, number>();

function mark(counter: string | symbol): void {
  const m = MARKS.get(counter);
  if (m === undefined) return;
  const span = trace.getSpan(context.active());
  if (span === undefined) return;
  const rank = open.get(span);
  // Undefined: not a cached call's span, or one that ended (a background refresh counts later).
  if (rank === undefined || m[1] < rank) return;
  open.set(span, m[1]);
  span.setAttribute(OUTCOME_ATTRIBUTE, m[0]);
  if (counter === 'coalesced') span.setAttribute('meshcache.cache.coalesced', true);
}

/** `stats` itself for every read and write, marking the active span on the counters of an outcome. */
function markingStats(stats: ActionStats): ActionStats {
  return new Proxy(stats, {
    set(target, prop, value) {
      mark(prop);
      return Reflect.set(target, prop, value);
    },
  });
}

/** The invoker of a cached action, with a span per call. */
export function tracedInvoker(
  ac: ActionCache,
  next: ActionInvoker,
  tracer: Tracer,
  keys: boolean,
): ActionInvoker {
  // A copy for the lookup only: the node's stats, invalidations and near tier see the one state.
  const inner = cachingInvoker({ ...ac, stats: markingStats(ac.stats) }, next);
  const path = `${ac.service.name}/${ac.name}`;
  const name = `cache ${path}`;
  const attributes = { [BACKEND_ATTRIBUTE]: ac.guard.name, 'meshcache.action': path };
  return (ctx: RequestContext, params: Params) => {
    const parent = context.active();
    const span = tracer.startSpan(name, { attributes }, parent);
    if (keys) {
      try {
        span.setAttribute(KEY_ATTRIBUTE, ac.keyOf(params, ctx));
      } catch {
        // No key for these params: the lookup skips the cache and says so (bypass).
      }
    }
    if (ctx.cacheMode !== undefined) span.setAttribute('meshcache.cache.mode', ctx.cacheMode);
    open.set(span, 0);
    let result: unknown;
    try {
      result = context.with(trace.setSpan(parent, span), inner, undefined, ctx, params);
    } catch (err) {
      open.delete(span);
      endFailed(span, err);
      throw err;
    }
    if (!(result instanceof Promise)) {
      open.delete(span);
      span.end();
      return result;
    }
    return result.then(
      (value) => {
        open.delete(span);
        span.end();
        return value;
      },
      (err: unknown) => {
        open.delete(span);
        endFailed(span, err);
        throw err;
      },
    );
  };
}
