import type { RequestContext } from './context.js';
import type { ActionOptions, Params } from './types.js';

/** What an interceptor knows about the action it wraps. */
export interface ActionInfo {
  /** Service name. */
  readonly service: string;
  /** Action name within the service (`get_user`, `cache/clear`). */
  readonly name: string;
  /** `<service>/<action>`. */
  readonly path: string;
  /** The options the action was declared with (decorator or plain object), e.g. `cache`. */
  readonly options: Readonly<ActionOptions>;
  /** True for actions the node generated itself (cache management). */
  readonly internal: boolean;
  /** True for a route to an action another node hosts (its calls are sent there). */
  readonly remote?: boolean;
}

/** Calls the rest of the chain (ending in the handler). May answer synchronously. */
export type ActionInvoker = (ctx: RequestContext, params: Params) => unknown;

/**
 * A middleware around action calls. `wrap` runs once per action when the node
 * starts (or when the interceptor or action is added later) and returns the
 * function that will run on every call: it may call `next` (before and after
 * work), return without calling it (short-circuit), or return `next` itself to
 * stay out of the way at zero cost.
 */
export interface Interceptor {
  readonly name: string;
  wrap(action: ActionInfo, next: ActionInvoker): ActionInvoker;
}

/** The short form of an interceptor: one function run on every call of every action. */
export type InterceptorFunction = (
  ctx: RequestContext,
  params: Params,
  next: (ctx: RequestContext, params: Params) => unknown,
  action: ActionInfo,
) => unknown;

/** Turns the short form into an `Interceptor`. */
export function toInterceptor(value: Interceptor | InterceptorFunction, index: number): Interceptor {
  if (typeof value !== 'function') return value;
  const fn = value;
  return {
    name: fn.name || `interceptor#${index}`,
    wrap: (action, next) => (ctx, params) => fn(ctx, params, next, action),
  };
}

/** Composes interceptors around a handler; the first interceptor is the outermost. */
export function compose(
  action: ActionInfo,
  interceptors: readonly Interceptor[],
  handler: ActionInvoker,
): ActionInvoker {
  let invoker = handler;
  for (let i = interceptors.length - 1; i >= 0; i--) invoker = interceptors[i].wrap(action, invoker);
  return invoker;
}
