/**
 * Runs an action call within its deadline: the request's own timeout, the
 * action's, or the node's, never past the deadline of the call it is nested
 * in. The timer is not unref'd: somebody awaits the call it bounds.
 */
import { MeshError } from '../errors.js';
import type { RequestContext } from './context.js';
import type { ActionInvoker } from './interceptors.js';
import type { Params } from './types.js';

/** TIMEOUT for a call past its deadline. */
export function timeoutError(ctx: RequestContext, ms: number): MeshError {
  return new MeshError('TIMEOUT', `request '${ctx.path}' timed out after ${ms} ms`, {
    path: ctx.path,
    timeout: ms,
  });
}

/** Calls `invoker`, rejecting with TIMEOUT when the deadline passes first. */
export function callWithDeadline(
  invoker: ActionInvoker,
  ctx: RequestContext,
  params: Params,
  timeout: number,
): Promise<unknown> {
  const now = Date.now();
  let deadline = timeout > 0 ? now + timeout : ctx.deadline;
  if (ctx.deadline > 0 && ctx.deadline < deadline) deadline = ctx.deadline;
  ctx.withDeadline(deadline);
  const remaining = deadline - now;
  if (remaining <= 0) return Promise.reject(timeoutError(ctx, timeout));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(timeoutError(ctx, remaining)), remaining);
    let result: unknown;
    try {
      result = invoker(ctx, params);
    } catch (err) {
      clearTimeout(timer);
      reject(err);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Runs `invoker` within `timeout` and the context's deadline, or as is when there is neither. */
export function invokeWithin(
  invoker: ActionInvoker,
  ctx: RequestContext,
  params: Params,
  timeout: number,
): Promise<unknown> {
  if (timeout > 0 || ctx.deadline > 0) return callWithDeadline(invoker, ctx, params, timeout);
  try {
    const result = invoker(ctx, params);
    return result instanceof Promise ? result : Promise.resolve(result);
  } catch (err) {
    return Promise.reject(err);
  }
}
