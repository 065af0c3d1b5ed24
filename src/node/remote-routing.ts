/**
 * How the host hands calls to the parts that reach other nodes, and what it
 * tells them of itself: the call sent for a path this node does not host (its
 * deadline, meta, trace), the route of an action another node hosts, and the
 * services this node announces. Plain functions over what the host passes in.
 */
import { MeshError } from '../errors.js';
import type { RequestContext } from './context.js';
import { routeError } from './host-errors.js';
import type { NodePart } from './part.js';
import type { ActionEntry, ServiceEntry } from './registry.js';
import type { HostedService, OutgoingCall } from './remote.js';
import { checkRequestOptions, isPlainObject } from './request-checks.js';
import type { Params, RequestOptions } from './types.js';

/** `<service>/<action>`, as routeError checks it. */
const PATH = /^[^/]+\/.+$/;

/** INVALID_PARAMS for params or options a call cannot take (undefined: both fine). */
export function badCall(
  path: string,
  params: unknown,
  options: RequestOptions | undefined,
): MeshError | undefined {
  if (params !== undefined && !isPlainObject(params))
    return new MeshError('INVALID_PARAMS', `params of '${path}' must be a plain object`, { path });
  return options === undefined ? undefined : checkRequestOptions(path, options);
}

/** The call for a path this node does not host, made by `node.request` or `ctx.request`. */
export function outgoingCall(
  parent: RequestContext | undefined,
  path: string,
  params: Params | undefined,
  options: RequestOptions | undefined,
  requestTimeout: number,
  newRequestId: () => string,
): OutgoingCall {
  const now = Date.now();
  const timeout = options?.timeout ?? requestTimeout;
  let deadline = timeout > 0 ? now + timeout : 0;
  const inherited = parent?.deadline ?? 0;
  if (inherited > 0 && (deadline === 0 || inherited < deadline)) deadline = inherited;
  return {
    path,
    params: params ?? {},
    deadline,
    meta: options?.meta ?? parent?.meta ?? {},
    cache: options?.cache,
    requestId: parent?.requestId ?? newRequestId(),
    caller: parent?.path,
  };
}

/** Hands `call` to the first routing part that takes it; `notFound` when none does. */
export function routeCall(
  routers: readonly NodePart[],
  call: OutgoingCall,
  notFound: () => MeshError,
): Promise<unknown> {
  for (const part of routers) {
    const sent = part.route?.(call);
    if (sent !== undefined) return sent;
  }
  return Promise.reject(notFound());
}

/** NOT_FOUND for a path no member hosts (or the routing error of a malformed one). */
export function notFoundAnywhere(
  path: string,
  services: ReadonlyMap<string, unknown>,
  networkId: string,
): MeshError {
  const local = routeError(path, services);
  if (local.code !== 'NOT_FOUND') return local;
  return new MeshError('NOT_FOUND', `${local.message} on this node or any member of network '${networkId}'`, {
    ...local.details,
  });
}

/** True when `path` may be routed to another node (well-formed). */
export function routable(path: unknown): path is string {
  return typeof path === 'string' && PATH.test(path);
}

/** The route of an action another node hosts: its handler sends the call on, within `ctx`'s deadline. */
export function remoteRoute(
  service: string,
  name: string,
  send: (call: OutgoingCall) => Promise<unknown>,
): ActionEntry {
  const path = `${service}/${name}`;
  const handler = (ctx: RequestContext, params: Params) =>
    send({
      path,
      params,
      deadline: ctx.deadline,
      meta: ctx.meta,
      cache: ctx.cacheMode,
      requestId: ctx.requestId,
      caller: ctx.caller,
    });
  return { service, name, path, options: {}, internal: false, remote: true, handler, invoker: handler };
}

/** The services and actions this node announces, with what the parts declare of each. */
export function hostedServices(
  services: Iterable<ServiceEntry>,
  parts: readonly NodePart[],
): HostedService[] {
  return [...services].map((svc) => ({
    name: svc.name,
    actions: [...svc.actions.values()].map((action) => {
      let declared: Record<string, unknown> | undefined;
      for (const part of parts) {
        const own = part.describeAction?.(action);
        if (own !== undefined) declared = { ...declared, ...own };
      }
      return declared === undefined ? { name: action.name } : { name: action.name, declared };
    }),
  }));
}
