/**
 * TypeScript 5 standard decorators (no `experimentalDecorators`, no
 * `reflect-metadata`). They only record metadata on the class
 * (`context.metadata`); `node.addService(instance)` reads it and registers the
 * same definition a plain-object service would produce.
 */
import '../polyfills.js';
import { ACTION_OPTION_KEYS, checkOptionKeys, SERVICE_DECORATOR_KEYS } from './option-keys.js';
import type { ActionOptions, PartOptions } from './types.js';

/** What the decorators record about a service class. */
export interface ServiceMetadata {
  name?: string;
  cache?: PartOptions;
  actions: Map<string, { name: string; options: ActionOptions }>;
  subscriptions: Array<{ topic: string; method: string | symbol }>;
  injections: Array<{ field: string | symbol; token: string }>;
}

/** Options of `@service(...)`. */
export interface ServiceDecoratorOptions {
  name: string;
  /** The service's caching options (the caching part's `ServiceCacheOptions`). */
  cache?: PartOptions;
  /** Event rules of this service (same as `cache.events`). */
  events?: readonly object[];
}

const META = Symbol.for('meshcache.service');

function metaOf(metadata: DecoratorMetadataObject | undefined, what: string): ServiceMetadata {
  if (metadata === undefined) {
    throw new TypeError(
      `@${what} needs TypeScript 5 standard decorators with Symbol.metadata (import 'meshcache' first)`,
    );
  }
  const bag = metadata as Record<symbol, ServiceMetadata | undefined>;
  const inherited = bag[META];
  if (inherited !== undefined && Object.hasOwn(bag, META)) return inherited;
  const own: ServiceMetadata = {
    name: undefined,
    cache: inherited?.cache,
    actions: new Map(inherited?.actions),
    subscriptions: [...(inherited?.subscriptions ?? [])],
    injections: [...(inherited?.injections ?? [])],
  };
  bag[META] = own;
  return own;
}

/** The decorator metadata of a class instance, if it was declared with `@service`. */
export function serviceMetadataOf(instance: object): ServiceMetadata | undefined {
  const ctor = (instance as { constructor?: { [Symbol.metadata]?: DecoratorMetadataObject | null } })
    .constructor;
  const metadata = ctor?.[Symbol.metadata];
  if (metadata == null) return undefined;
  return (metadata as Record<symbol, ServiceMetadata | undefined>)[META];
}

type Method = (this: any, ...args: any[]) => any;

/** Declares a class as a service: `@service('user')` or `@service({ name: 'user', cache: { ttl: 30 } })`. */
export function service(nameOrOptions: string | ServiceDecoratorOptions) {
  const options = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions;
  checkOptionKeys(options, SERVICE_DECORATOR_KEYS, `@service(${JSON.stringify(options?.name)})`);
  return (_target: abstract new (...args: any[]) => unknown, context: ClassDecoratorContext): void => {
    const meta = metaOf(context.metadata, 'service');
    meta.name = options.name;
    let cache = options.cache;
    if (options.events !== undefined) {
      const base: { events?: readonly object[] } =
        typeof cache === 'object' ? cache : cache === true ? { enabled: true } : {};
      cache = { ...base, events: [...(base.events ?? []), ...options.events] };
    }
    meta.cache = cache;
  };
}

function mergeAction(meta: ServiceMetadata, method: string | symbol, patch: ActionOptions): void {
  if (typeof method !== 'string') throw new TypeError('actions must have string names');
  const current = meta.actions.get(method);
  const options: ActionOptions = { ...current?.options, ...patch };
  if (current?.options.cache !== undefined && patch.cache !== undefined) {
    options.cache = { ...asObject(current.options.cache), ...asObject(patch.cache) };
  }
  meta.actions.set(method, { name: method, options });
}

function asObject(cache: PartOptions): object {
  return typeof cache === 'boolean' ? { enabled: cache } : cache;
}

/** Declares a method as an action: `@action()` or `@action({ cache: { ttl: 60 } })`. */
export function action(options: ActionOptions = {}) {
  return (_method: Method, context: ClassMethodDecoratorContext): void => {
    if (context.static || context.private) throw new TypeError('@action applies to public instance methods');
    checkOptionKeys(options, ACTION_OPTION_KEYS, `@action() of ${String(context.name)}`);
    mergeAction(metaOf(context.metadata, 'action'), context.name, options);
  };
}

/** Caches a method's results: `@cached({ ttl: 60 })` is `@action({ cache: { enabled: true, ttl: 60 } })`. */
export function cached(options: object = {}) {
  return (_method: Method, context: ClassMethodDecoratorContext): void => {
    if (context.static || context.private) throw new TypeError('@cached applies to public instance methods');
    mergeAction(metaOf(context.metadata, 'cached'), context.name, { cache: { enabled: true, ...options } });
  };
}

/** Subscribes a method to events: `@subscribe('user.*')`; the method gets `(ctx, data)`. */
export function subscribe(topic: string) {
  return (_method: Method, context: ClassMethodDecoratorContext): void => {
    if (context.static) throw new TypeError('@subscribe applies to instance methods');
    metaOf(context.metadata, 'subscribe').subscriptions.push({ topic, method: context.name });
  };
}

/** Fills a field with the value given to `node.provide(token, value)`. */
export function inject(token: string) {
  return (_value: undefined, context: ClassFieldDecoratorContext): void => {
    if (context.static) throw new TypeError('@inject applies to instance fields');
    metaOf(context.metadata, 'inject').injections.push({ field: context.name, token });
  };
}
