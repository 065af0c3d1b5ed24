/**
 * Options of the Redis backend, as a TypeScript type and as a valibot schema (the
 * lead embeds `redisOptionsSchema` as `cache.redis` in the config schema, so a
 * config file and `new RedisBackend({...})` accept exactly the same shape).
 */
import type { ConnectionOptions } from 'node:tls';
import * as v from 'valibot';
import { strict } from './strict.js';

const port = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535));
const positive = v.pipe(v.number(), v.integer(), v.minValue(1));

/** One node of a Redis Cluster: `{ host, port }` or the string `"host:port"`. */
const clusterNodeSchema = v.union([
  strict({ host: v.pipe(v.string(), v.minLength(1)), port }),
  v.pipe(
    v.string(),
    v.regex(/^(?:\[[^\]]+\]|[^:\s]+):\d{1,5}$/, 'expected "host:port"'),
    v.transform((s) => {
      const at = s.lastIndexOf(':');
      const host = s.slice(0, at).replace(/^\[(.*)\]$/, '$1');
      return { host, port: Number(s.slice(at + 1)) };
    }),
    v.object({ host: v.string(), port }),
  ),
]);

/** `true` (TLS with the system CAs) or the options of `tls.connect` (ca, cert, key, servername, ...). */
const tlsSchema = v.union([
  v.boolean(),
  v.custom<ConnectionOptions>(
    (x) => typeof x === 'object' && x !== null && !Array.isArray(x),
    'expected a boolean or an object of TLS options',
  ),
]);

export const redisOptionsSchema = v.pipe(
  strict({
    /** `redis://[user:pass@]host:port[/db]`, or `rediss://` for TLS. */
    url: v.optional(v.pipe(v.string(), v.regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL'))),
    /** Single server host (default 127.0.0.1 when neither url nor cluster is given). */
    host: v.optional(v.pipe(v.string(), v.minLength(1))),
    /** Single server port (default 6379). */
    port: v.optional(port),
    /** Redis Cluster seed nodes. Any reachable master is enough; the rest is discovered. */
    cluster: v.optional(v.pipe(v.array(clusterNodeSchema), v.minLength(1))),
    /**
     * Redis Sentinel: the sentinels asked where the primary of `name` is (any reachable one
     * is enough). The connection follows a failover to the promoted replica.
     */
    sentinels: v.optional(
      v.pipe(v.array(clusterNodeSchema), v.minLength(1, 'expected at least one sentinel')),
    ),
    /** Sentinel: the name of the monitored primary (`sentinel monitor <name> ...`). */
    name: v.optional(v.pipe(v.string(), v.minLength(1))),
    /** Sentinel: ACL user and password of the sentinels themselves (`username`/`password` are the servers'). */
    sentinelUsername: v.optional(v.string()),
    sentinelPassword: v.optional(v.string()),
    /** TLS: `true`, or `tls.connect` options. A `rediss://` URL turns it on too. */
    tls: v.optional(tlsSchema),
    /** ACL user name (Redis 6+). */
    username: v.optional(v.string()),
    password: v.optional(v.string()),
    /** Database number (single server only; a cluster has only db 0). */
    db: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
    /** Extra prefix put in front of every key inside Redis (the cache keys already carry `cache:<network>/`). */
    keyPrefix: v.optional(v.string(), ''),
    /** How long one connection attempt may take, in ms. */
    connectTimeoutMs: v.optional(positive, 1000),
    /** Upper bound of one command, in ms: a slower reply fails the operation. */
    operationTimeoutMs: v.optional(positive, 200),
    /** SCAN COUNT hint used by clear / revoke / keys. */
    scanCount: v.optional(positive, 1000),
    /**
     * Single server: send the commands of one tick in one round trip, the gets
     * folded into one MGET (default true). False: ioredis auto-pipelining instead.
     * A cluster always uses auto-pipelining (it groups commands per node).
     */
    batch: v.optional(v.boolean(), true),
    /**
     * Longest pause between two reconnection attempts, in ms. Short, so that caching resumes
     * within about this long of Redis answering again (an attempt against a server that is
     * down is one refused connection).
     * @default 100
     */
    maxReconnectDelayMs: v.optional(positive, 100),
  }),
  v.forward(
    v.check(
      (o) => !(o.cluster && (o.url || o.host || o.port)),
      'use either cluster or url/host/port, not both',
    ),
    ['cluster'],
  ),
  v.forward(
    v.check((o) => !(o.cluster && o.db), 'a Redis Cluster has only database 0'),
    ['db'],
  ),
  v.forward(
    v.check(
      (o) => !(o.sentinels && (o.cluster || o.url || o.host || o.port)),
      'use either sentinels or cluster or url/host/port, not several',
    ),
    ['sentinels'],
  ),
  v.forward(
    v.check((o) => !(o.sentinels && !o.name), 'sentinels need the name of the monitored primary'),
    ['name'],
  ),
  v.forward(
    v.check(
      (o) => !(o.name !== undefined && !o.sentinels),
      'name is the Sentinel primary name: give sentinels too',
    ),
    ['sentinels'],
  ),
  v.forward(
    v.check(
      (o) => !((o.sentinelUsername !== undefined || o.sentinelPassword !== undefined) && !o.sentinels),
      'sentinelUsername / sentinelPassword apply only with sentinels',
    ),
    ['sentinels'],
  ),
);

/** What `new RedisBackend(options)` and `cache.redis` accept (every field optional). */
export type RedisBackendOptions = v.InferInput<typeof redisOptionsSchema>;

/** The options after validation, with defaults filled in. */
export type ResolvedRedisOptions = v.InferOutput<typeof redisOptionsSchema>;
