import type { RequestContext } from './context.js';

/** Parameters of an action call: a plain object (or nothing). */
export type Params = Record<string, unknown>;

/** An action handler: the request context first, then the params, as in the spec. */
export type ActionHandler<P = any, R = unknown> = (ctx: RequestContext, params: P) => R | Promise<R>;

/** An event handler: `(ctx, data)`; `ctx.event` tells the topic and the publisher. */
export type EventHandler<D = any> = (ctx: RequestContext, data: D) => unknown;

/**
 * Caching options of an action (DESIGN.md, "Caching semantics"). `true` is
 * `{ enabled: true }`, `false` is `{ enabled: false }`.
 */
export interface CacheOptions {
  /** Cache this action (default true when a cache object is given for an action). */
  enabled?: boolean;
  /**
   * Seconds an entry lives; fractions allowed; 0 = no expiry. In code, on an action, also a
   * function of the result (adaptive TTL): anything but a finite number >= 0 means "do not cache this one".
   */
  ttl?: number | ((result: any, params: any, ctx: RequestContext) => number);
  /** Seconds past `ttl` during which a stale entry is served while one background call refreshes it. */
  staleTtl?: number;
  /** Seconds past `ttl` + `staleTtl` an entry is kept to answer when the handler fails or times out. */
  grace?: number;
  /** With a stale value at hand: answer with it when the handler takes longer than this (ms). */
  softTimeoutMs?: number;
  /**
   * Tags of each entry, for `invalidateTags`: templates filled from the params (`'user:{id}'`), or
   * (in code, on an action) a function of the params and the result.
   */
  tags?: readonly string[] | ((params: any, result: any, ctx: RequestContext) => readonly string[]);
  /** `'node'` (default): concurrent misses of a key run the handler once per node; `'cluster'`: once per shared backend. */
  coalesce?: 'node' | 'cluster';
  /** Param names (dot paths allowed) that make the key, in order. */
  keys?: readonly string[];
  /** Builds the action key yourself; overrides `keys`. */
  key?: (params: any, ctx: RequestContext) => string;
  /** Name of the backend that stores this action's entries. */
  backend?: string;
  /** Cache this call or not (true = cache). */
  condition?: (params: any, ctx: RequestContext) => boolean;
  /** `false`: no in-process near tier in front of a remote backend for this action (default true). */
  near?: boolean;
}

/** Options of an action declared by `@action(...)` or in `node.addService({ actions })`. */
export interface ActionOptions {
  /** Caching of this action's results. */
  cache?: CacheOptions | boolean;
  /** Default timeout of a call, in ms (0 = none); a request's own `timeout` wins. */
  timeout?: number;
  /**
   * Options of your own for your interceptors (`action.options.meta`). Other keys are refused
   * (type and run time), so that a misspelt `cahce` cannot silently cache nothing.
   */
  meta?: Readonly<Record<string, unknown>>;
}

/** An action in a plain-object service: a handler, or options with a handler. */
export type ActionDefinition = ActionHandler | (ActionOptions & { handler: ActionHandler });

/**
 * A cache invalidation rule: when `event` is published, remove `keys` and invalidate `tags`
 * (`{field}` filled from the event data). At least one of `keys` and `tags`.
 */
export interface EventRule {
  event: string;
  keys?: readonly string[];
  tags?: readonly string[];
  /** Global rules only: the services the rule applies to (default: every caching service). */
  services?: readonly string[];
}

/** Service-level caching options: defaults for its actions, plus event rules. */
export interface ServiceCacheOptions extends Omit<CacheOptions, 'key' | 'condition' | 'ttl' | 'tags'> {
  ttl?: number;
  tags?: readonly string[];
  events?: readonly EventRule[];
}

/** A service registered without decorators: `node.addService({ name, actions, events })`. */
export interface ServiceDefinition {
  name: string;
  cache?: ServiceCacheOptions | boolean;
  actions?: Record<string, ActionDefinition>;
  events?: Record<string, EventHandler>;
  /** Called by `node.start()` (or at once if the node already runs). */
  started?: (node: import('./host.js').Host) => unknown;
  /** Called by `node.stop()`. */
  stopped?: (node: import('./host.js').Host) => unknown;
}

/** Per-request options of `node.request()` and `ctx.request()`. */
export interface RequestOptions {
  /** Milliseconds before the call fails with `TIMEOUT` (0 or absent: none, or the action's default). */
  timeout?: number;
  /**
   * Cache behaviour for this call only: `'bypass'` neither reads nor writes the
   * cache; `'refresh'` skips the read, runs the handler and stores its result.
   */
  cache?: 'bypass' | 'refresh';
  /** Free-form metadata, visible as `ctx.meta` (and inherited by nested calls). */
  meta?: Record<string, unknown>;
}
