/**
 * The storage contract every cache backend implements. Each method may answer
 * synchronously or with a promise; the caching layer handles both, and keeps the
 * synchronous path free of promise allocations.
 *
 * Keys are the full scoped keys built by the caching layer
 * (`<prefix><networkId>/<service>/<action key>`, e.g. `cache:default/user/get_user:123`).
 * Values are opaque to the backend: a backend that leaves the process must
 * serialize them (see `encodeValue` / `decodeValue` in `../codec.js`).
 */
export interface CacheBackend {
  /** The stored value, or `undefined` for a miss (absent or expired). */
  get(key: string): unknown | Promise<unknown>;
  /**
   * Stores `value` for `ttlSeconds` seconds (fractions allowed; 0 = no expiry).
   * The caching layer only passes finite TTLs >= 0; the built-in backends
   * refuse anything else with INVALID_PARAMS (see `assertTtl` in `../ttl.js`).
   */
  set(key: string, value: unknown, ttlSeconds: number): void | Promise<void>;
  /** Removes one key; true if it was there. */
  delete(key: string): boolean | Promise<boolean>;
  /** Removes every key starting with `prefix` (all keys without one); returns how many, if known. */
  clear(prefix?: string): number | undefined | Promise<number | undefined> | void | Promise<void>;
  /** Lists the keys starting with `prefix`; needed for revoke by pattern. */
  keys?(prefix?: string): Iterable<string> | AsyncIterable<string> | Promise<Iterable<string>>;
  /**
   * Removes every key starting with `prefix` whose rest matches `pattern` (a glob,
   * see `globToRegExp`). Optional: backends that can do it closer to the data
   * (Redis SCAN MATCH, a DHT broadcast) implement it; otherwise the caching layer
   * uses `keys()` and `delete()`.
   */
  revoke?(prefix: string, pattern: string): number | Promise<number>;
  /**
   * Set when every operation of this backend settles (resolves or rejects)
   * within this many ms by itself, as the Redis backend's commands do. When it
   * is within the caching layer's own bound (`cache.failure.opTimeoutMs`), the
   * layer adds no timer of its own to each operation.
   */
  readonly operationTimeoutMs?: number;
  /** Called once by `node.start()` before the first request. */
  open?(context: BackendContext): void | Promise<void>;
  /** Called by `node.stop()`: release connections and timers. */
  close?(): void | Promise<void>;
}

/** What a backend learns about its node when it is opened. */
export interface BackendContext {
  readonly networkId: string;
  readonly logger: import('pino').Logger;
  /** The node's network layer, when the node joined a P2P network (DHT backend). */
  readonly network?: unknown;
}

/** Counters a backend may expose for metrics (evictions are counted by the backend itself). */
export interface BackendStats {
  readonly evictions?: number;
  readonly entries?: number;
  readonly bytes?: number;
}
