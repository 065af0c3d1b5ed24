import type { RequestContext } from './context.js';

/** Parameters of an action call: a plain object (or nothing). */
export type Params = Record<string, unknown>;

/** An action handler: the request context first, then the params, as in the spec. */
export type ActionHandler<P = any, R = unknown> = (ctx: RequestContext, params: P) => R | Promise<R>;

/** An event handler: `(ctx, data)`; `ctx.event` tells the topic and the publisher. */
export type EventHandler<D = any> = (ctx: RequestContext, data: D) => unknown;

/**
 * A part's options on an action or a service (the caching part's: `cache`),
 * opaque to the host: an object the part validates, `true` / `false` standing
 * for `{ enabled: true }` / `{ enabled: false }`.
 */
export type PartOptions = object | boolean;

/** Options of an action declared by `@action(...)` or in `node.addService({ actions })`. */
export interface ActionOptions {
  /** Caching of this action's results: read by the caching part (its `CacheOptions`). */
  cache?: PartOptions;
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

/** A service registered without decorators: `node.addService({ name, actions, events })`. */
export interface ServiceDefinition {
  name: string;
  /** Read by the caching part (its `ServiceCacheOptions`). */
  cache?: PartOptions;
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
