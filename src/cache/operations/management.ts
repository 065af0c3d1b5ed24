/**
 * The management actions every cached service gets (`<service>/cache/clear`,
 * `/delete`, `/revoke`, `/invalidate` by tags; `/keys` and `/get` to look)
 * and who may call them. By default a service manages
 * its own cache, and the local process (`node.request`, `node.subscribe`
 * handlers) manages every cache; `cache.access.allow` names more callers, and
 * `cache.access.authorize` replaces the rule. A caller on another node may
 * manage a service's cache when `cache.access.peers` lists it or when it hosts
 * the same service. A refused call removes nothing.
 */
import * as v from 'valibot';
import { badParams, MeshError } from '../../errors.js';
import type { RequestContext } from '../../node/context.js';
import type { PartComponents } from '../../node/part.js';
import { strict } from '../backends/strict.js';
import type { Invalidator } from '../coherence/invalidator.js';
import type { KeyBuilder } from '../keys/builder.js';
import { compileGlob, MAX_RAW_PATTERN_LENGTH } from '../keys/glob.js';
import type { EntryReader } from '../read/peek.js';
import type { ResolvedGlobal } from '../setup/config.js';

/** A management operation, as given to `cache.access.authorize`. */
export interface ManagementRequest {
  service: string;
  operation: 'clear' | 'delete' | 'revoke' | 'invalidate' | 'keys' | 'get';
}

const text = (max: number) => v.pipe(v.string(), v.minLength(1), v.maxLength(max));
const deleteParams = strict({ key: text(4096) });
const deleteByActionParams = strict({
  action: text(256),
  params: v.optional(v.record(v.string(), v.unknown())),
});
const revokeParams = strict({ pattern: text(MAX_RAW_PATTERN_LENGTH) });
const clearParams = strict({});
/** Keys listed when the caller gives no limit, and the most one call lists. */
const KEYS_LIMIT = 1000;
const MAX_KEYS_LIMIT = 100_000;
const keysParams = strict({
  pattern: v.optional(text(MAX_RAW_PATTERN_LENGTH)),
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_KEYS_LIMIT))),
});
const getParams = strict({ key: text(4096) });
const invalidateParams = strict({
  tags: v.pipe(v.array(text(512)), v.minLength(1), v.maxLength(1000)),
});

/** Service name of contexts run for the node itself (`node.subscribe` handlers): the local process. */
const LOCAL_CALLER = '$node';

/** Throws ACCESS_DENIED unless the caller of `ctx` may run `operation` on `service`'s cache. */
export function authorize(
  access: ResolvedGlobal['access'],
  ctx: RequestContext,
  service: string,
  peerHosts: (peer: string, service: string) => boolean,
  operation: ManagementRequest['operation'],
): void {
  if (ctx.peer !== undefined) {
    authorizePeer(access, ctx, ctx.peer, service, peerHosts, operation);
    return;
  }
  const caller = ctx.callerService;
  if (access.authorize !== undefined) {
    if (access.authorize(ctx, { service, operation } satisfies ManagementRequest) === true) return;
  } else if (
    caller === undefined ||
    caller === LOCAL_CALLER ||
    caller === service ||
    access.allow.includes('*') ||
    access.allow.includes(caller)
  ) {
    return;
  }
  const who = caller === undefined ? 'this caller' : `service '${caller}'`;
  const allow =
    access.authorize !== undefined
      ? 'cache.access.authorize refused it'
      : caller === undefined
        ? `allowed: the service itself and node.request; cache.access.allow: ['*'] allows everyone`
        : `allow it with cache.access.allow: ['${caller}'] (or '*' for everyone)`;
  throw new MeshError('ACCESS_DENIED', `${who} may not ${operation} the cache of '${service}' (${allow})`, {
    service,
    operation,
    caller: ctx.caller,
    setting: 'cache.access',
  });
}

/**
 * A caller on another node: allowed when `cache.access.peers` lists its peer id
 * (or is `'*'`: every member), or when it hosts the same service; or as
 * `cache.access.authorize` decides, when set (it sees `ctx.peer`).
 */
function authorizePeer(
  access: ResolvedGlobal['access'],
  ctx: RequestContext,
  peer: string,
  service: string,
  peerHosts: (peer: string, service: string) => boolean,
  operation: ManagementRequest['operation'] | 'read stats',
): void {
  if (access.authorize !== undefined) {
    if (
      operation !== 'read stats' &&
      access.authorize(ctx, { service, operation } satisfies ManagementRequest) === true
    )
      return;
  } else if (peerAllowed(access, peer) || (service !== '$node' && peerHosts(peer, service))) return;
  const setting =
    access.authorize !== undefined && operation !== 'read stats'
      ? 'cache.access.authorize refused it'
      : `allow it on this node with cache.access.peers: ['${peer}'] (or '*' for every member)`;
  throw new MeshError(
    'ACCESS_DENIED',
    `peer ${peer} may not ${operation} the cache of '${service}' (${setting})`,
    {
      service,
      operation,
      peer,
      setting: 'cache.access.peers',
    },
  );
}

function peerAllowed(access: ResolvedGlobal['access'], peer: string): boolean {
  const peers = access.peers;
  return peers === '*' || peers?.includes(peer) === true;
}

/** Throws ACCESS_DENIED unless the caller of `ctx` may read this node's statistics (`$node/stats`). */
export function authorizeStats(access: ResolvedGlobal['access'], ctx: RequestContext): void {
  if (ctx.peer === undefined) return;
  authorizePeer(
    { allow: access.allow, ...(access.peers === undefined ? {} : { peers: access.peers }) },
    ctx,
    ctx.peer,
    '$node',
    () => false,
    'read stats',
  );
}

/** Adds the management actions of one service. */
export function addManagementActions(
  host: Pick<PartComponents, 'addInternalAction'>,
  service: string,
  access: ResolvedGlobal['access'],
  invalidator: Invalidator,
  actions: ReadonlyMap<string, { keyOf: KeyBuilder }>,
  /** Whether member `peer` announced that it hosts `service` (it may then manage that service's cache). */
  peerHosts: (peer: string, service: string) => boolean,
  /** Lists the service's keys and reads its entries (`cache/keys`, `cache/get`). */
  reader: EntryReader,
): void {
  host.addInternalAction(service, 'cache/clear', async (ctx, params) => {
    const parsed = v.safeParse(clearParams, params);
    if (!parsed.success) throw badParams(`${service}/cache/clear`, parsed.issues);
    authorize(access, ctx, service, peerHosts, 'clear');
    return { cleared: await invalidator.clear(service) };
  });
  host.addInternalAction(service, 'cache/delete', async (ctx, params) => {
    const key = deleteKey(service, actions, ctx, params);
    authorize(access, ctx, service, peerHosts, 'delete');
    const deleted = await invalidator.delete(service, key);
    const reach = invalidator.reach(service, key);
    return reach === undefined
      ? { deleted }
      : { deleted, holders: { reached: reach.reached, total: reach.holders } };
  });
  host.addInternalAction(service, 'cache/revoke', async (ctx, params) => {
    const parsed = v.safeParse(revokeParams, params);
    if (!parsed.success) throw badParams(`${service}/cache/revoke`, parsed.issues);
    authorize(access, ctx, service, peerHosts, 'revoke');
    return { revoked: await invalidator.revoke(service, parsed.output.pattern) };
  });
  host.addInternalAction(service, 'cache/keys', async (ctx, params) => {
    const parsed = v.safeParse(keysParams, params ?? {});
    if (!parsed.success) throw badParams(`${service}/cache/keys`, parsed.issues);
    const { pattern, limit } = parsed.output;
    const glob = pattern === undefined ? undefined : compileGlob(pattern);
    authorize(access, ctx, service, peerHosts, 'keys');
    return reader.keys(glob, limit ?? KEYS_LIMIT);
  });
  host.addInternalAction(service, 'cache/get', async (ctx, params) => {
    const parsed = v.safeParse(getParams, params);
    if (!parsed.success) throw badParams(`${service}/cache/get`, parsed.issues);
    authorize(access, ctx, service, peerHosts, 'get');
    return reader.get(parsed.output.key);
  });
  host.addInternalAction(service, 'cache/invalidate', async (ctx, params) => {
    const parsed = v.safeParse(invalidateParams, params);
    if (!parsed.success) throw badParams(`${service}/cache/invalidate`, parsed.issues);
    authorize(access, ctx, service, peerHosts, 'invalidate');
    return invalidator.tags(service, parsed.output.tags);
  });
}

/**
 * The action key `cache/delete` removes: `{ key }` as written, or `{ action, params }` built by the
 * action's own key rule, which cannot miss whatever the params' types.
 */
function deleteKey(
  service: string,
  actions: ReadonlyMap<string, { keyOf: KeyBuilder }>,
  ctx: RequestContext,
  params: unknown,
): string {
  const path = `${service}/cache/delete`;
  const given = params !== null && typeof params === 'object' ? params : {};
  if (!('key' in given) && !('action' in given)) {
    throw new MeshError(
      'INVALID_PARAMS',
      `${path}: give the key ({ key: 'get_user:1' }) or the action and its params ({ action: 'get_user', params: { id: 1 } })`,
      { path, field: 'key' },
    );
  }
  if ('key' in given) {
    const parsed = v.safeParse(deleteParams, params);
    if (!parsed.success) throw badParams(path, parsed.issues);
    return parsed.output.key;
  }
  const parsed = v.safeParse(deleteByActionParams, params);
  if (!parsed.success) throw badParams(path, parsed.issues);
  const action = actions.get(parsed.output.action);
  if (action === undefined) {
    throw new MeshError(
      'INVALID_PARAMS',
      `${path}: '${parsed.output.action}' is not a cached action of '${service}' (cached: ${[...actions.keys()].join(', ')})`,
      { path, field: 'action' },
    );
  }
  return action.keyOf(parsed.output.params ?? {}, ctx);
}
