/**
 * The storage contract every cache backend implements, and the capabilities a
 * backend may declare. Each method may answer synchronously or with a
 * promise; the caching layer handles both. What a backend can do beyond the
 * four required methods is declared by optional members, never inferred from
 * its class, so a custom backend gets every path a built-in one gets.
 *
 * Keys are the full scoped keys built by the caching layer
 * (`<prefix><networkId>/<service>/<action key>`, e.g. `cache:default/user/get_user:123`).
 * Values are opaque to the backend: a backend that leaves the process must
 * serialize them (see `encodeValue` / `decodeValue` in `../../codec/index.js`).
 */
import type { Logger } from 'pino';
import type { MeshNetwork } from '../../network/index.js';
import type { Glob } from '../keys/glob.js';

/** Why an entry left without being deleted. */
export type EvictionReason = 'capacity' | 'bytes' | 'expired';

/** Counters a backend may expose for `stats()` and metrics. */
export interface BackendStats {
  readonly evictions?: number;
  readonly entries?: number;
  readonly bytes?: number;
  /** What holds the entries (`memory`, `redis`, `dht`), when it is not plain from the backend's name. */
  readonly kind?: string;
  /** False while the backend knows it cannot reach its store (a Redis connection down). */
  readonly connected?: boolean;
}

export interface CacheBackend {
  /** The stored value, or `undefined` for a miss (absent or expired). */
  get(key: string): unknown | Promise<unknown>;
  /**
   * Stores `value` for `ttlSeconds` seconds (fractions allowed; 0 = no expiry). A negative or
   * non-finite ttl is refused with `MeshError` `INVALID_PARAMS` (see `assertTtl` in ../ttl.ts).
   */
  set(key: string, value: unknown, ttlSeconds: number): void | Promise<void>;
  /** Removes one key; true if it was there. */
  delete(key: string): boolean | Promise<boolean>;
  /**
   * Capability (a store that keeps copies on several machines): how many of `key`'s
   * holders the last `delete(key)` reached, asked right after it resolved; reported in
   * the delete's result, and a warning when short.
   */
  deleteReach?(key: string): { reached: number; holders: number } | undefined;
  /** Removes every key starting with `prefix` (all keys without one); returns how many, if known. */
  clear(prefix?: string): number | undefined | Promise<number | undefined> | void | Promise<void>;
  /** Capability: lists the keys starting with `prefix`; lets the layer revoke by pattern. */
  keys?(prefix?: string): Iterable<string> | AsyncIterable<string> | Promise<Iterable<string>>;
  /**
   * Capability: removes every key starting with `prefix` whose rest matches `pattern`
   * (a glob: `*` any run, `?` one character). The caching layer also passes `glob`, the same
   * pattern compiled; other callers (the conformance suite) may omit it.
   * Backends that can do it closer to the data (Redis SCAN MATCH, a DHT broadcast)
   * implement it; otherwise the caching layer uses `keys()` and `delete()`.
   */
  revoke?(prefix: string, pattern: string, glob?: Glob): number | Promise<number>;
  /**
   * Capability: every operation settles (resolves or rejects) within this many ms by
   * itself, as the Redis backend's commands do. When it is within the caching
   * layer's own bound (`cache.failure.opTimeoutMs`), the layer adds no timer of its own.
   */
  readonly operationTimeoutMs?: number;
  /**
   * Capability (tags, see docs/tags.md): like `get`, plus, in the same round trip, the latest
   * invalidation time among the tag records the entry was stored with by `setTagged` (0: none)
   * and the tag clock now. Times are the backend's own clock, in any unit that only grows.
   */
  getTagged?(key: string): TaggedRead | Promise<TaggedRead>;
  /** Capability (tags): like `set`, recording the full keys of the entry's tag records for `getTagged`. */
  setTagged?(
    key: string,
    value: unknown,
    ttlSeconds: number,
    tagKeys: readonly string[],
  ): void | Promise<void>;
  /**
   * Capability (tags): records the tag clock now, plus one, as the invalidation time of each tag
   * record, kept `retentionSeconds`; an entry read afterwards whose `writtenAt` is older is a miss.
   */
  invalidateTags?(tagKeys: readonly string[], retentionSeconds: number): void | Promise<void>;
  /**
   * Capability (`coalesce: 'cluster'`, see src/cache/read/cluster-flight.ts): takes the lease
   * `leaseKey` for `ms` if nobody holds it (`SET NX PX`); true when taken.
   */
  acquireLease?(leaseKey: string, token: string, ms: number): boolean | Promise<boolean>;
  /**
   * Capability (`coalesce: 'cluster'`, optional): extends the lease to `ms` from now if `token`
   * still holds it; false when it does not (lost, or the backend was closed). Without it a
   * handler slower than the lease may run twice.
   */
  renewLease?(leaseKey: string, token: string, ms: number): boolean | Promise<boolean>;
  /** Capability (`coalesce: 'cluster'`): drops the lease if `token` still holds it, and wakes its waiters. */
  releaseLease?(leaseKey: string, token: string): void | Promise<void>;
  /**
   * Capability (`coalesce: 'cluster'`): resolves when the lease is released (a notification),
   * or after `ms` at the latest; never rejects.
   */
  waitLease?(leaseKey: string, ms: number): Promise<void>;
  /** Capability: counters for `stats()` and Prometheus. */
  stats?(): BackendStats;
  /**
   * Capability: the data lives outside this process (Redis, the DHT, a custom
   * store): the caching layer puts an in-process near tier in front of it
   * (`cache.near`, src/cache/coherence/near-tiers.ts).
   */
  readonly remote?: true;
  /**
   * Capability: the backend keeps in-process copies of its own, coherent by its own
   * protocol: the caching layer puts no near tier in front of it (no built-in
   * backend does since the DHT's own near cache was removed).
   */
  readonly ownNearCopies?: boolean;
  /**
   * Capability: `get` that also tells how long the entry still lives, in ms
   * (`Infinity`: no expiry). The near tier fills itself from a remote hit only
   * through it, so a near copy never outlives the remote entry.
   */
  getWithTtl?(key: string): Promise<{ value: unknown; ttlMs: number } | undefined>;
  /**
   * Capability: the Redis connection of a Redis backend, for server-assisted
   * client-side caching of the near tier (src/cache/coherence/channels/redis.ts).
   */
  redisConnection?(): RedisConnection | undefined;
  /**
   * Capability: calls `listener` when the backend can serve again after it could not (its
   * connection is back): the guard closes its circuit breaker at once instead of waiting
   * for the end of its cool-down.
   */
  onAvailable?(listener: () => void): void;
  /** Capability: calls `listener` when an entry is dropped by capacity, bytes or expiry (metrics). */
  onEviction?(listener: (key: string, reason: EvictionReason) => void): void;
  /** Called once by `node.start()` before the first request. */
  open?(context: BackendContext): void | Promise<void>;
  /** Called by `node.stop()`: release connections and timers. */
  close?(): void | Promise<void>;
}

/**
 * An in-process backend whose operations all answer synchronously and hand
 * back the very value stored (no copy, no serialization), like the memory
 * backend. Declaring `synchronous: true` gives a backend the caching layer's
 * promise-free hit path; the layer then stores deep-frozen snapshots in it.
 */
export interface SyncCacheBackend extends CacheBackend {
  readonly synchronous: true;
  get(key: string): unknown;
  set(key: string, value: unknown, ttlSeconds: number): void;
  delete(key: string): boolean;
  clear(prefix?: string): number | undefined | void;
}

/**
 * A secondary index of one action's entries keyed by the raw value of its key
 * param (a number or a string): a hit then hashes `123` instead of the whole
 * scoped key string. Entries stay in the main index too.
 */
export interface FastTable {
  readonly map: Map<number | string, number>;
}

/** A synchronous backend that also offers per-action secondary indexes (the fastest hit path). */
export interface IndexedCacheBackend extends SyncCacheBackend {
  /** A new, empty secondary index for one action. */
  table(): FastTable;
  /** Like `get`, through a secondary index. */
  getIn(table: FastTable, fastKey: number | string): unknown;
  /** Like `set`, also indexing the entry in `table` under `fastKey`. */
  setIn(table: FastTable, fastKey: number | string, key: string, value: unknown, ttlSeconds: number): void;
}

/** True for a backend that declared `synchronous: true`. */
export function isSynchronous(backend: CacheBackend): backend is SyncCacheBackend {
  return (backend as { synchronous?: unknown }).synchronous === true;
}

/** True for a synchronous backend that offers secondary indexes. */
export function isIndexed(backend: SyncCacheBackend): backend is IndexedCacheBackend {
  const b = backend as Partial<IndexedCacheBackend>;
  return typeof b.table === 'function' && typeof b.getIn === 'function' && typeof b.setIn === 'function';
}

/** What the near tier needs of a Redis backend to track its keys (see `CacheBackend.redisConnection`). */
export interface RedisConnection {
  /** The ioredis client (`Redis` or `Cluster`) the backend sends its commands on. */
  readonly client: unknown;
  readonly cluster: boolean;
  /** The backend's `keyPrefix`: a Redis key is `keyPrefix + cache key`. */
  readonly keyPrefix: string;
}

/** What `getTagged` answers. */
export interface TaggedRead {
  /** As `get`: undefined for a miss. */
  readonly value: unknown;
  /** The latest invalidation time among the entry's tag records; 0 when none was invalidated. */
  readonly invalidatedAt: number;
  /** The tag clock at the read (a miss stores it as the new entry's `writtenAt`). */
  readonly now: number;
  /**
   * Optional: the entry's remaining life in ms (`Infinity`: no expiry). When given, a
   * tagged hit may fill the near tier (for at most that long), as `getWithTtl` does.
   */
  readonly ttlMs?: number;
}

/** True for a backend that keeps tag records itself (`getTagged`, `setTagged`, `invalidateTags`). */
export function hasTags(backend: CacheBackend): boolean {
  return (
    typeof backend.getTagged === 'function' &&
    typeof backend.setTagged === 'function' &&
    typeof backend.invalidateTags === 'function'
  );
}

/** True for a backend offering leases (`coalesce: 'cluster'`). */
export function hasLeases(backend: CacheBackend): boolean {
  return (
    typeof backend.acquireLease === 'function' &&
    typeof backend.releaseLease === 'function' &&
    typeof backend.waitLease === 'function'
  );
}

/** What a backend learns about its node when it is opened. */
export interface BackendContext {
  readonly networkId: string;
  readonly logger: Logger;
  /** The node's P2P network, when the node joined one (the DHT backend needs it). */
  readonly network?: MeshNetwork;
}
