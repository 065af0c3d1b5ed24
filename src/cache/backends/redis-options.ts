/**
 * Options of the Redis backend, as a TypeScript type and as a zod schema (the
 * lead embeds `redisOptionsSchema` as `cache.redis` in the config schema, so a
 * config file and `new RedisBackend({...})` accept exactly the same shape).
 */
import type { ConnectionOptions } from 'node:tls';
import { z } from 'zod';

/** One node of a Redis Cluster: `{ host, port }` or the string `"host:port"`. */
const clusterNodeSchema = z.union([
  z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
  }),
  z
    .string()
    .regex(/^(?:\[[^\]]+\]|[^:\s]+):\d{1,5}$/, 'expected "host:port"')
    .transform((s) => {
      const at = s.lastIndexOf(':');
      const host = s.slice(0, at).replace(/^\[(.*)\]$/, '$1');
      return { host, port: Number(s.slice(at + 1)) };
    })
    .pipe(z.object({ host: z.string(), port: z.number().int().min(1).max(65535) })),
]);

/** `true` (TLS with the system CAs) or the options of `tls.connect` (ca, cert, key, servername, ...). */
const tlsSchema = z.union([
  z.boolean(),
  z.custom<ConnectionOptions>(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    'expected a boolean or an object of TLS options',
  ),
]);

export const redisOptionsSchema = z
  .strictObject({
    /** `redis://[user:pass@]host:port[/db]`, or `rediss://` for TLS. */
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL')
      .optional(),
    /** Single server host (default 127.0.0.1 when neither url nor cluster is given). */
    host: z.string().min(1).optional(),
    /** Single server port (default 6379). */
    port: z.number().int().min(1).max(65535).optional(),
    /** Redis Cluster seed nodes (no Sentinel). Any reachable master is enough; the rest is discovered. */
    cluster: z.array(clusterNodeSchema).min(1).optional(),
    /** TLS: `true`, or `tls.connect` options. A `rediss://` URL turns it on too. */
    tls: tlsSchema.optional(),
    /** ACL user name (Redis 6+). */
    username: z.string().optional(),
    password: z.string().optional(),
    /** Database number (single server only; a cluster has only db 0). */
    db: z.number().int().min(0).optional(),
    /** Extra prefix put in front of every key inside Redis (the cache keys already carry `cache:<network>/`). */
    keyPrefix: z.string().default(''),
    /** How long one connection attempt may take, in ms. */
    connectTimeoutMs: z.number().int().positive().default(1000),
    /** Upper bound of one command, in ms: a slower reply fails the operation. */
    operationTimeoutMs: z.number().int().positive().default(200),
    /** SCAN COUNT hint used by clear / revoke / keys. */
    scanCount: z.number().int().positive().default(1000),
    /**
     * Single server: send the commands of one tick in one round trip, the gets
     * folded into one MGET (default true). False: ioredis auto-pipelining instead.
     * A cluster always uses auto-pipelining (it groups commands per node).
     */
    batch: z.boolean().default(true),
    /** Longest pause between two reconnection attempts, in ms. */
    maxReconnectDelayMs: z.number().int().positive().default(2000),
  })
  .refine((o) => !(o.cluster && (o.url || o.host || o.port)), {
    message: 'use either cluster or url/host/port, not both',
    path: ['cluster'],
  })
  .refine((o) => !(o.cluster && o.db), {
    message: 'a Redis Cluster has only database 0',
    path: ['db'],
  });

/** What `new RedisBackend(options)` and `cache.redis` accept (every field optional). */
export type RedisBackendOptions = z.input<typeof redisOptionsSchema>;

/** The options after validation, with defaults filled in. */
export type ResolvedRedisOptions = z.output<typeof redisOptionsSchema>;
