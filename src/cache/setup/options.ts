/**
 * The caching options a user declares in code: on an action (`@action({ cache })`,
 * `@cached`, `addService({ actions: { x: { cache } } })`), on a service, and
 * the event rules. Each is documented here once; the configuration file takes
 * the same names (schema.ts) except functions, which are code only. The host
 * (src/node) keeps the `cache` slot of an action open; these types fill it
 * for users (src/index.ts).
 */
import type { RequestContext } from '../../node/context.js';
import type * as host from '../../node/types.js';

/** How results are handed out: frozen shared copies (default) or a fresh copy per call. */
export type ResultMode = 'frozen' | 'copy';

/**
 * Caching options of an action (DESIGN.md, "Caching semantics"). `true` is
 * `{ enabled: true }`, `false` is `{ enabled: false }`.
 */
export interface CacheOptions {
  /**
   * Cache this action.
   * @default true when a cache object is given for an action
   */
  enabled?: boolean;
  /**
   * Seconds an entry lives; fractions allowed; 0 = no expiry. In code, on an action, also a
   * function of the result (adaptive TTL): anything but a finite number >= 0 means "do not cache this one".
   * @default the service's, else `cache.ttl` (30)
   */
  ttl?: number | ((result: any, params: any, ctx: RequestContext) => number);
  /**
   * Seconds past `ttl` during which a stale entry is served while one background call refreshes it.
   * @default 0 (off)
   */
  staleTtl?: number;
  /**
   * Seconds past `ttl` + `staleTtl` an entry is kept to answer when the handler fails or times out.
   * @default 0 (off)
   */
  grace?: number;
  /**
   * With a stale value at hand: answer with it when the handler takes longer than this (ms).
   * @default undefined (wait for the handler)
   */
  softTimeoutMs?: number;
  /**
   * Tags of each entry, for `invalidateTags`: templates filled from the params (`'user:{id}'`), or
   * (in code, on an action) a function of the params and the result.
   * @default undefined (untagged)
   */
  tags?: readonly string[] | ((params: any, result: any, ctx: RequestContext) => readonly string[]);
  /**
   * `'node'`: concurrent misses of a key run the handler once per node; `'cluster'`: once per shared backend.
   * @default 'node'
   */
  coalesce?: 'node' | 'cluster';
  /**
   * Param names (dot paths allowed) that make the key, in order.
   * @default undefined (every param; a single simple param's value alone)
   */
  keys?: readonly string[];
  /**
   * Builds the action key yourself; overrides `keys`.
   * @default undefined
   */
  key?: (params: any, ctx: RequestContext) => string;
  /**
   * Name of the backend that stores this action's entries.
   * @default `cache.backend` ('memory')
   */
  backend?: string;
  /**
   * Cache this call or not (true = cache).
   * @default undefined (every call)
   */
  condition?: (params: any, ctx: RequestContext) => boolean;
  /**
   * `false`: no in-process near tier in front of a remote backend for this action.
   * @default true
   */
  near?: boolean;
}

/**
 * A cache invalidation rule: when `event` is published, remove `keys` and invalidate `tags`
 * (`{field}` filled from the event data). At least one of `keys` and `tags`.
 */
export interface EventRule {
  /** The event's topic. */
  event: string;
  /**
   * Action key templates (`get_user:{id}`); one with `*` or `?` revokes by pattern.
   * @default undefined
   */
  keys?: readonly string[];
  /**
   * Tag templates (`user:{id}`) to invalidate.
   * @default undefined
   */
  tags?: readonly string[];
  /**
   * Global rules only: the services the rule applies to.
   * @default undefined (every caching service)
   */
  services?: readonly string[];
}

/** Service-level caching options: defaults for its actions, plus event rules. */
export interface ServiceCacheOptions extends Omit<CacheOptions, 'key' | 'condition' | 'ttl' | 'tags'> {
  /**
   * Seconds an entry of its actions lives (a number only: functions go on actions).
   * @default `cache.ttl` (30)
   */
  ttl?: number;
  /**
   * Tag templates of every entry of its actions.
   * @default undefined
   */
  tags?: readonly string[];
  /**
   * Event rules of this service.
   * @default []
   */
  events?: readonly EventRule[];
}

/** Options of an action declared by `@action(...)` or in `node.addService({ actions })`. */
export interface ActionOptions extends host.ActionOptions {
  /**
   * Caching of this action's results.
   * @default undefined (the service's and the configuration's say)
   */
  cache?: CacheOptions | boolean;
}

/** An action in a plain-object service: a handler, or options with a handler. */
export type ActionDefinition = host.ActionHandler | (ActionOptions & { handler: host.ActionHandler });

/** A service registered without decorators: `node.addService({ name, actions, events })`. */
export interface ServiceDefinition extends Omit<host.ServiceDefinition, 'cache' | 'actions'> {
  /**
   * Caching of this service's actions: defaults, and event rules.
   * @default undefined
   */
  cache?: ServiceCacheOptions | boolean;
  /** @default {} */
  actions?: Record<string, ActionDefinition>;
}
