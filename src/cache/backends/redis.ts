/**
 * The Redis cache backend: a single server or a Redis Cluster, through ioredis.
 *
 * - Values go through the project codec (`encodeValue` / `decodeValue`); a value
 *   that does not decode is a miss, logged at most once per 10 s.
 * - TTLs live on the server (`SET key value PX ms`).
 * - `clear` / `revoke` walk the keyspace with `SCAN MATCH` in batches (never `KEYS`),
 *   on every master of a cluster, and remove each batch with `UNLINK`.
 * - Fail fast: nothing waits for a connection; a command fails at once while
 *   Redis is unreachable and after `operationTimeoutMs` when it is slow. The
 *   client reconnects in the background and caching resumes by itself.
 * - Throughput (single server): the commands issued in the same tick share one
 *   round trip, the gets folded into one `MGET` (see `redis-batch.ts`); on a
 *   cluster, ioredis auto-pipelining groups commands per node.
 */
import type { Cluster, Redis } from 'ioredis';
import * as v from 'valibot';
import { decodeValue, encodeValue } from '../../codec/index.js';
import { fromIssues, MeshError } from '../../errors.js';
import type { BackendContext, BackendStats, CacheBackend, RedisConnection, TaggedRead } from './backend.js';
import { TickBatcher } from './redis-batch.js';
import { globToRedis, prefixMatch } from './redis-glob.js';
import { RedisLeases } from './redis-lease.js';
import { type RedisBackendState, RedisLink } from './redis-link.js';
import { type RedisBackendOptions, type ResolvedRedisOptions, redisOptionsSchema } from './redis-options.js';
import { scanUnlink } from './redis-scan.js';
import {
  payloadOf,
  type RawTaggedRead,
  readTaggedCluster,
  TaggedReader,
  taggedString,
  writeInvalidation,
} from './redis-tags.js';
import { assertTtl } from './ttl.js';

export type { RedisBackendState } from './redis-link.js';
export type { RedisBackendOptions, ResolvedRedisOptions } from './redis-options.js';
export { redisOptionsSchema } from './redis-options.js';

/** Minimum interval between two "malformed value" log lines. */
const MALFORMED_LOG_INTERVAL_MS = 10_000;

export class RedisBackend implements CacheBackend {
  /** The validated options, defaults filled in. */
  readonly options: ResolvedRedisOptions;
  readonly #link: RedisLink;
  #batcher: TickBatcher | undefined;
  #tagReader: TaggedReader | undefined;
  readonly #leases: RedisLeases;
  #malformedSeen = 0;
  #malformedLoggedAt = -Infinity;
  readonly #prefix: string;
  /** Capability: the data lives in Redis (the caching layer adds a near tier in front). */
  readonly remote = true as const;

  /** Every operation settles within this many ms (commands time out, a disconnected client fails at once). */
  get operationTimeoutMs(): number {
    return this.options.operationTimeoutMs;
  }

  /** Validates the options; does not connect (see `open`). Throws `MeshError('CONFIG_INVALID')`. */
  constructor(options: RedisBackendOptions = {}) {
    const parsed = v.safeParse(redisOptionsSchema, options);
    if (!parsed.success) {
      const e = fromIssues(parsed.issues, { code: 'CONFIG_INVALID', fieldPrefix: 'cache.redis.' });
      throw new MeshError('CONFIG_INVALID', `invalid Redis backend options: ${e.message}`, e.details);
    }
    this.options = parsed.output;
    this.#prefix = this.options.keyPrefix;
    this.#link = new RedisLink(this.options);
    this.#leases = new RedisLeases(this.#link, this.#prefix);
  }

  /** True when this backend talks to a Redis Cluster. */
  get isCluster(): boolean {
    return this.options.cluster !== undefined;
  }

  /** `up` when commands can be sent; `down` while reconnecting. */
  get state(): RedisBackendState {
    return this.#link.state;
  }

  /** The `stats` capability: whether commands can be sent now (`stats().backends.redis.available`). */
  stats(): BackendStats {
    return { kind: 'redis', connected: this.#link.state === 'up' };
  }

  /** The underlying ioredis client (for diagnostics and tests); undefined before `open`. */
  get client(): Redis | Cluster | undefined {
    return this.#link.client;
  }

  /**
   * Connects. Waits at most about `connectTimeoutMs` for the first connection;
   * if Redis is unreachable it logs a warning and returns anyway (never throws for
   * that): the client keeps reconnecting in the background with a bounded backoff,
   * and operations fail fast until it is back.
   */
  async open(context?: BackendContext): Promise<void> {
    if (this.#link.client) return; // already open (a closed backend may be opened again)
    this.#leases.reopen();
    if (this.options.batch && !this.isCluster)
      this.#batcher = new TickBatcher(() => this.#link.ready('get') as Redis);
    await this.#link.open(context);
  }

  #decode(key: string, raw: string | null): unknown {
    if (raw === null) return undefined;
    try {
      return decodeValue(raw);
    } catch (err) {
      this.#malformed(key, err);
      return undefined;
    }
  }

  #malformed(key: string, err: unknown): void {
    this.#malformedSeen++;
    const now = performance.now();
    if (now - this.#malformedLoggedAt < MALFORMED_LOG_INTERVAL_MS) return;
    this.#malformedLoggedAt = now;
    this.#link.log.warn(
      { key, err: (err as Error).message, count: this.#malformedSeen },
      'Malformed value in Redis treated as a miss',
    );
    this.#malformedSeen = 0;
  }

  /** The stored value, or undefined for a miss (absent, expired or malformed). */
  get(key: string): Promise<unknown> {
    const full = this.#prefix + key;
    const batcher = this.#batcher;
    if (batcher) {
      return batcher.get(
        full,
        (raw) => this.#decode(key, raw),
        (err) => this.#link.fail('get', err),
      );
    }
    let pending: Promise<string | null>;
    try {
      pending = this.#link.ready('get').get(full);
    } catch (err) {
      return Promise.reject(err);
    }
    return pending.then(
      (raw) => this.#decode(key, raw),
      (err) => {
        throw this.#link.fail('get', err);
      },
    );
  }

  /**
   * GET and PTTL in one round trip (the near tier's fill: a near copy must not
   * outlive the Redis entry); undefined for a miss.
   */
  async getWithTtl(key: string): Promise<{ value: unknown; ttlMs: number } | undefined> {
    const full = this.#prefix + key;
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await this.#link.ready('get').pipeline().get(full).pttl(full).exec();
    } catch (err) {
      throw this.#link.fail('get', err);
    }
    const [[getErr, raw], [ttlErr, pttl]] = replies ?? [
      [null, null],
      [null, -2],
    ];
    if (getErr || ttlErr) throw this.#link.fail('get', getErr ?? ttlErr);
    const value = this.#decode(key, raw as string | null);
    if (value === undefined) return undefined;
    const ms = pttl as number;
    // -1: no expiry; -2: gone between the two commands (cannot happen in one pipeline on one server).
    return { value, ttlMs: ms === -1 ? Number.POSITIVE_INFINITY : Math.max(0, ms) };
  }

  /** The `onAvailable` capability: the connection is back (the guard closes its breaker). */
  onAvailable(listener: () => void): void {
    this.#link.onUpAgain(listener);
  }

  /** Capability: the connection the near tier tracks (server-assisted client-side caching). */
  redisConnection(): RedisConnection | undefined {
    const client = this.#link.client;
    return client === undefined ? undefined : { client, cluster: this.isCluster, keyPrefix: this.#prefix };
  }

  /** Stores `value` for `ttlSeconds` (fractions allowed, rounded to ms; 0 = no expiry). */
  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    assertTtl(ttlSeconds, key);
    await this.#write(key, encodeValue(value), ttlSeconds);
  }

  /** Writes an encoded value under `key` for `ttlSeconds` (rounded to ms; 0 = no expiry). */
  async #write(key: string, encoded: string, ttlSeconds: number): Promise<void> {
    const px = ttlSeconds === 0 ? 0 : Math.max(1, Math.round(ttlSeconds * 1000));
    const full = this.#prefix + key;
    try {
      if (this.#batcher) return await this.#batcher.set(full, encoded, px);
      const client = this.#link.ready('set');
      if (px === 0) await client.set(full, encoded);
      else await client.set(full, encoded, 'PX', px);
    } catch (err) {
      throw this.#link.fail('set', err);
    }
  }

  /**
   * Tags (docs/tags.md): the entry, the invalidation records it names and the server clock, in
   * one round trip (a Lua script; two round trips on a cluster). See redis-tags.ts.
   */
  async getTagged(key: string): Promise<TaggedRead> {
    let read: RawTaggedRead;
    try {
      const full = this.#prefix + key;
      if (this.isCluster) read = await readTaggedCluster(this.#link.ready('get') as Cluster, full);
      else {
        this.#tagReader ??= new TaggedReader(() => this.#link.ready('get') as Redis);
        read = await this.#tagReader.read(full);
      }
    } catch (err) {
      throw this.#link.fail('get', err);
    }
    const value = read.raw === null ? undefined : this.#decode(key, payloadOf(read.raw).payload);
    return { value, invalidatedAt: read.invalidatedAt, now: read.now, ttlMs: read.ttlMs };
  }

  /** Tags: stores `value` with a header naming its tag records (`tagKeys`, without the keyPrefix). */
  async setTagged(
    key: string,
    value: unknown,
    ttlSeconds: number,
    tagKeys: readonly string[],
  ): Promise<void> {
    assertTtl(ttlSeconds, key);
    const encoded = taggedString(
      tagKeys.map((k) => this.#prefix + k),
      encodeValue(value),
    );
    await this.#write(key, encoded, ttlSeconds);
  }

  /** Tags: records the server clock (plus one microsecond) in each tag record, kept `retentionSeconds`. */
  async invalidateTags(tagKeys: readonly string[], retentionSeconds: number): Promise<void> {
    try {
      await writeInvalidation(
        this.#link.ready('invalidateTags'),
        this.isCluster,
        tagKeys.map((k) => this.#prefix + k),
        Math.max(1, Math.round(retentionSeconds * 1000)),
      );
    } catch (err) {
      throw this.#link.fail('invalidateTags', err);
    }
  }

  /** `coalesce: 'cluster'`: takes the lease for `ms` if free (`SET NX PX`); see redis-lease.ts. */
  acquireLease(leaseKey: string, token: string, ms: number): Promise<boolean> {
    return this.#leases.acquire(this.#prefix + leaseKey, token, ms);
  }

  /** `coalesce: 'cluster'`: extends the lease if still ours; false when not, or once closed. */
  renewLease(leaseKey: string, token: string, ms: number): Promise<boolean> {
    return this.#leases.renew(this.#prefix + leaseKey, token, ms);
  }

  /** `coalesce: 'cluster'`: drops the lease if still ours and wakes every node's waiters. */
  releaseLease(leaseKey: string, token: string): Promise<void> {
    return this.#leases.release(this.#prefix + leaseKey, token);
  }

  /** `coalesce: 'cluster'`: resolves when the lease is released, or after `ms`. */
  waitLease(leaseKey: string, ms: number): Promise<void> {
    return this.#leases.wait(this.#prefix + leaseKey, ms);
  }

  /** Removes one key in one round trip (DEL); true if it was there. */
  async delete(key: string): Promise<boolean> {
    const full = this.#prefix + key;
    try {
      const n = this.#batcher ? await this.#batcher.del(full) : await this.#link.ready('delete').del(full);
      return n > 0;
    } catch (err) {
      throw this.#link.fail('delete', err);
    }
  }

  /** Removes every key starting with `prefix` (SCAN + UNLINK, every master); returns how many. */
  async clear(prefix = ''): Promise<number> {
    return this.#scanUnlink('clear', prefixMatch(this.#prefix + prefix));
  }

  /**
   * Removes the keys starting with `prefix` whose rest matches the glob `pattern`
   * (`*` any run, `?` one character, everything else literal); returns how many.
   */
  async revoke(prefix: string, pattern: string): Promise<number> {
    const glob = globToRedis(this.#prefix + prefix, pattern);
    return this.#scanUnlink('revoke', glob.match, glob.exact);
  }

  /** Lists the keys starting with `prefix` (SCAN, every master), without the backend's keyPrefix. */
  async *keys(prefix = ''): AsyncIterable<string> {
    const match = prefixMatch(this.#prefix + prefix);
    const cut = this.#prefix.length;
    for (const node of this.#link.nodes('keys')) {
      let cursor = '0';
      do {
        let keys: string[];
        try {
          [cursor, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', this.options.scanCount);
        } catch (err) {
          throw this.#link.fail('keys', err);
        }
        for (const k of keys) yield k.slice(cut);
      } while (cursor !== '0');
    }
  }

  async #scanUnlink(op: string, match: string, exact?: (key: string) => boolean): Promise<number> {
    const nodes = this.#link.nodes(op);
    try {
      return await scanUnlink(nodes, this.isCluster, this.options.scanCount, match, exact);
    } catch (err) {
      throw this.#link.fail(op, err);
    }
  }

  /** Disconnects; afterwards no timer or socket of this backend is left. */
  async close(): Promise<void> {
    this.#batcher?.abort(new MeshError('STOPPED', 'the Redis backend was closed'));
    this.#leases.close();
    this.#batcher = undefined;
    await this.#link.close();
  }
}
