/**
 * The schemas (valibot) of a cache configuration: the options of the three
 * levels (global, service, action), the global-only sections, and a file's
 * shape. Backends' own sections are added from the registry (config.ts).
 */
import * as v from 'valibot';
import { strict } from '../backends/strict.js';
import { isValidTtl, TTL_RULE } from '../backends/ttl.js';

/** A TTL in seconds, by the rule of `./ttl.ts` (finite, >= 0, fractions allowed; 0 = no expiry). */
const ttlError = (issue: { input?: unknown }) =>
  `expected ${TTL_RULE}, got ${typeof issue.input === 'string' ? JSON.stringify(issue.input) : String(issue.input)}`;
const ttlSchema = v.pipe(v.number(ttlError), v.check<number, typeof ttlError>(isValidTtl, ttlError));

// biome-ignore lint/suspicious/noExplicitAny: user functions take the params and context of their action
export type AnyFunction = (...args: any[]) => unknown;
const fn = v.custom<AnyFunction>((x) => typeof x === 'function', 'expected a function');
export const name = v.pipe(v.string(), v.minLength(1));
const names = v.array(name);
const count = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

const seconds = v.pipe(
  v.number(`expected ${TTL_RULE}`),
  v.check<number, string>(isValidTtl, `expected ${TTL_RULE}`),
);

/** A list of tags or tag templates (`user:{id}`). */
export const tagListSchema = v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(512)));

const policyShape = {
  grace: v.optional(seconds),
  softTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  tags: v.optional(tagListSchema),
  coalesce: v.optional(v.picklist(['node', 'cluster'])),
};

export const eventRuleSchema = v.pipe(
  strict({
    event: name,
    keys: v.optional(v.pipe(names, v.minLength(1))),
    tags: v.optional(v.pipe(tagListSchema, v.minLength(1))),
    services: v.optional(names),
  }),
  v.check((r) => r.keys !== undefined || r.tags !== undefined, 'an event rule needs keys, tags or both'),
);

/**
 * Options shared by all three levels: each documented, with its default, on
 * `CacheOptions` (options.ts); in a file, functions are refused.
 */
const commonShape = {
  enabled: v.optional(v.boolean()),
  ttl: v.optional(ttlSchema),
  staleTtl: v.optional(ttlSchema),
  backend: v.optional(name),
  /**
   * `frozen`: hits share one deep-frozen copy; `copy`: every call gets its own copy.
   * @default 'frozen'
   */
  results: v.optional(v.picklist(['frozen', 'copy'])),
  ...policyShape,
};

const actionObjectShape = {
  ...commonShape,
  keys: v.optional(names),
  key: v.optional(fn),
  condition: v.optional(fn),
  near: v.optional(v.boolean()),
};
export const actionCacheSchema = v.union([v.boolean(), strict(actionObjectShape)]);
/** Declared in code on an action: `ttl` and `tags` may also be functions (never in a file). */
export const declaredActionCacheSchema = v.union([
  v.boolean(),
  strict({
    ...actionObjectShape,
    ttl: v.optional(
      v.custom<number | AnyFunction>(
        (x) => typeof x === 'function' || isValidTtl(x),
        (issue) => `${ttlError(issue)} or a function of the result`,
      ),
    ),
    tags: v.optional(v.union([tagListSchema, fn])),
  }),
]);

export const serviceCacheSchema = v.union([
  v.boolean(),
  strict({
    ...commonShape,
    keys: v.optional(names),
    events: v.optional(v.array(eventRuleSchema)),
    near: v.optional(v.boolean()),
  }),
]);

const failureSchema = strict({
  /**
   * Longest a backend operation may take before it counts as failed, in ms.
   * @default the backend's own bound when it declares one (Redis), else 250
   */
  opTimeoutMs: v.optional(count(1)),
  /**
   * Consecutive failures that make the node skip a backend.
   * @default 5
   */
  failureThreshold: v.optional(count(1)),
  /**
   * How long a failing backend is skipped before it is tried again, in ms.
   * @default 5000
   */
  cooldownMs: v.optional(count(1)),
  /**
   * Longest a management operation (clear, delete, revoke, tags) may take on one backend, in ms.
   * @default 30000
   */
  managementTimeoutMs: v.optional(count(1)),
});

const accessSchema = strict({
  /**
   * Services allowed to call any service's cache management actions (`'*'`: every caller).
   * @default [] (a service manages its own cache; the local process every cache)
   */
  allow: v.optional(names),
  /**
   * Peer ids of other members allowed to call this node's `<service>/cache/*` actions and to
   * read its `$node/stats` (`'*'`: every member of the network). A member that hosts a
   * service may always manage that service's cache.
   * @default [] (no other member, but those hosting the same service)
   */
  peers: v.optional(v.union([v.literal('*'), v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(128)))])),
  /**
   * Code only: decides every management call (it sees `ctx.peer`); overrides `allow` and `peers`.
   * @default undefined
   */
  authorize: v.optional(fn),
});

const tracingSchema = strict({
  /**
   * Put the action key (`get_user:1`) on each cached call's span (`meshcache.cache.key`). Keys
   * may carry personal data (ids, emails): off unless asked for.
   * @default false
   */
  keys: v.optional(v.boolean()),
});

const nearSchema = strict({
  /**
   * A near tier in front of every remote backend (Redis, DHT, custom `remote: true`).
   * @default true
   */
  enabled: v.optional(v.boolean()),
  /**
   * Most entries one near tier keeps (LRU).
   * @default 10000
   */
  maxEntries: v.optional(count(1)),
  /**
   * Most bytes one near tier keeps (estimated; 0 = no byte bound).
   * @default 67108864 (64 MiB)
   */
  maxBytes: v.optional(count(0)),
  /**
   * Longest a near copy is kept, in seconds (never longer than the remote entry lives).
   * @default 60
   */
  maxAgeSeconds: v.optional(v.pipe(v.number(), v.gtValue(0))),
  /**
   * Redis coherence: `auto` (client tracking, else pub/sub), `tracking`, `pubsub`.
   * @default 'auto'
   */
  redis: v.optional(v.picklist(['auto', 'tracking', 'pubsub'])),
});

const coherenceSchema = strict({
  /**
   * Longest time, in ms, after an invalidation resolved on any node that another
   * node may still serve the old value, whatever happens to the network: a node
   * that cannot show it heard its coherence channel within it stops serving near
   * copies (and DHT records it holds) until it can. 0: no bound (no heartbeats).
   * @default 1000
   */
  maxStalenessMs: v.optional(
    v.union([v.literal(0), v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(3_600_000))]),
  ),
  /**
   * Memory backends on a network: `true` clears them when the node is out of touch
   * with a member (and on an interval of the bound while it stays so), so they also
   * never serve a value invalidated elsewhere later than the bound.
   * @default false (they keep serving what they hold; notices reach them when the network works)
   */
  boundMemory: v.optional(v.boolean()),
});

export const globalShape = {
  ...commonShape,
  /**
   * Prefix of every stored key.
   * @default 'cache:'
   */
  prefix: v.optional(v.pipe(v.string(), v.maxLength(64))),
  /**
   * Copies of each entry in the DHT.
   * @default 3
   */
  replication: v.optional(count(1, 20)),
  /**
   * Action keys longer than this are shortened with a hash.
   * @default 200
   */
  maxKeyLength: v.optional(count(32, 4096)),
  // The spec's example file carries this section; only the values describing what meshcache does are accepted.
  consistency: v.optional(
    strict({
      strategy: v.optional(v.literal('eventual')),
      conflict_resolution: v.optional(v.literal('last_write_wins')),
    }),
  ),
  /**
   * Event rules of every service (`services` narrows one).
   * @default []
   */
  events: v.optional(v.array(eventRuleSchema)),
  /** Who may call the management actions. */
  access: v.optional(accessSchema),
  /** Timeouts and the circuit breaker of every backend. */
  failure: v.optional(failureSchema),
  /** The in-process tier in front of remote backends (src/cache/coherence/near-tiers.ts, README "Near tier"). */
  near: v.optional(nearSchema),
  /** The staleness bound across nodes (README "Staleness bound"). */
  coherence: v.optional(coherenceSchema),
  /** OpenTelemetry spans, recorded only when the application registered an SDK before `node.start()`. */
  tracing: v.optional(tracingSchema),
};
export const globalCacheSchema = strict(globalShape);

const serviceSchema = strict({
  cache: v.optional(serviceCacheSchema),
  actions: v.optional(v.record(v.string(), strict({ cache: v.optional(actionCacheSchema) }))),
});

export const fileShape = {
  cache: v.optional(globalCacheSchema),
  services: v.optional(v.record(v.string(), serviceSchema)),
};
export const fileSchema = strict(fileShape);
