/**
 * The host's decorators (src/node/decorators.ts) with the caching options
 * typed: the host keeps its `cache` slots open, users get `CacheOptions`
 * checked where they write them.
 */
import * as host from '../../node/decorators.js';
import type { ActionOptions, CacheOptions, EventRule, ServiceCacheOptions } from './options.js';

/** Options of `@service(...)`. */
export interface ServiceDecoratorOptions extends host.ServiceDecoratorOptions {
  /** Caching of this service's actions: defaults, and event rules. @default undefined */
  cache?: ServiceCacheOptions | boolean;
  /** Event rules of this service (same as `cache.events`). @default [] */
  events?: readonly EventRule[];
}

/** Declares a class as a service: `@service('user')` or `@service({ name: 'user', cache: { ttl: 30 } })`. */
export const service: (nameOrOptions: string | ServiceDecoratorOptions) => ReturnType<typeof host.service> =
  host.service;
/** Declares a method as an action: `@action()` or `@action({ cache: { ttl: 60 } })`. */
export const action: (options?: ActionOptions) => ReturnType<typeof host.action> = host.action;
/** Caches a method's results: `@cached({ ttl: 60 })` is `@action({ cache: { enabled: true, ttl: 60 } })`. */
export const cached: (options?: CacheOptions) => ReturnType<typeof host.cached> = host.cached;
