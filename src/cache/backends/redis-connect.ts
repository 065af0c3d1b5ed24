/**
 * Builds the ioredis client (single server or Cluster) for a RedisBackend, with
 * the settings that make it fail fast: no offline queue, no retry of a command
 * after a disconnect, every command bounded by the operation timeout, and a
 * bounded exponential backoff for reconnection in the background.
 */
import type { ConnectionOptions } from 'node:tls';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { ResolvedRedisOptions } from './redis-options.js';

/** Where and how to connect, after merging `url` with the explicit fields. */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
  readonly tls?: ConnectionOptions;
}

/** Merges `url` with host/port/username/password/db/tls; explicit fields win over the URL. */
export function resolveEndpoint(o: ResolvedRedisOptions): RedisEndpoint {
  let fromUrl: Partial<RedisEndpoint> & { secure?: boolean } = {};
  if (o.url) {
    const u = new URL(o.url);
    const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
    fromUrl = {
      host: u.hostname ? u.hostname.replace(/^\[(.*)\]$/, '$1') : undefined,
      port: u.port ? Number(u.port) : undefined,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      db: db !== undefined && Number.isInteger(db) ? db : undefined,
      secure: u.protocol === 'rediss:',
    };
  }
  return {
    host: o.host ?? fromUrl.host ?? '127.0.0.1',
    port: o.port ?? fromUrl.port ?? 6379,
    username: o.username ?? fromUrl.username,
    password: o.password ?? fromUrl.password,
    db: o.db ?? fromUrl.db,
    tls: tlsOptions(o.tls, fromUrl.secure === true),
  };
}

function tlsOptions(tls: ResolvedRedisOptions['tls'], secureUrl: boolean): ConnectionOptions | undefined {
  if (typeof tls === 'object') return tls;
  if (tls === true || (tls === undefined && secureUrl)) return {};
  return undefined;
}

/** Reconnection delays: 50 ms doubling up to `max`, with ±20% jitter so clients do not stampede. */
export function backoff(max: number): (attempt: number) => number {
  return (attempt) => {
    const base = Math.min(max, 50 * 2 ** Math.min(attempt - 1, 16));
    return Math.max(10, Math.round(base * (0.8 + Math.random() * 0.4)));
  };
}

/** Settings shared by a single-server client and by each node connection of a cluster. */
function commonOptions(o: ResolvedRedisOptions): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: o.connectTimeoutMs,
    commandTimeout: o.operationTimeoutMs,
    // A command issued while disconnected fails at once; one in flight when the
    // connection drops fails at once too (it is never replayed later).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // The backend batches a single server's commands itself (redis-batch.ts).
    enableAutoPipelining: !o.batch,
    // The cache keys are prefixed by the backend itself (ioredis' keyPrefix does not
    // apply to SCAN MATCH patterns, which would make clear/revoke inconsistent).
    keyPrefix: undefined,
    connectionName: 'meshcache',
  };
}

/** A lazily connecting single-server client (the primary named by the sentinels, with `sentinels`). */
export function createStandalone(o: ResolvedRedisOptions): Redis {
  const ep = resolveEndpoint(o);
  const base: RedisOptions = {
    ...commonOptions(o),
    username: ep.username,
    password: ep.password,
    db: ep.db ?? 0,
    tls: ep.tls,
    retryStrategy: backoff(o.maxReconnectDelayMs),
  };
  if (!o.sentinels) return new Redis({ ...base, host: ep.host, port: ep.port });
  return new Redis({
    ...base,
    sentinels: o.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: o.name,
    // Always the primary: a replica would refuse writes and lags behind the deletes.
    role: 'master',
    sentinelUsername: o.sentinelUsername,
    sentinelPassword: o.sentinelPassword,
    enableTLSForSentinelMode: ep.tls !== undefined,
    sentinelRetryStrategy: backoff(o.maxReconnectDelayMs),
    sentinelCommandTimeout: o.operationTimeoutMs,
    // Not ioredis' failoverDetector: its +switch-master arriving while the client is
    // reconnecting (the primary just died) makes the client give up for good. A
    // primary that dies closes the connection anyway, and Sentinel kills the clients
    // of a primary it demotes alive; a write answered READONLY (a demoted primary
    // that kept the connection) reconnects, which asks the sentinels again.
    reconnectOnError: (err) => (/^READONLY/.test(err.message) ? 1 : false),
  });
}

/** A lazily connecting Redis Cluster client over the seed nodes of `o.cluster`. */
export function createCluster(o: ResolvedRedisOptions): Cluster {
  const ep = resolveEndpoint({ ...o, cluster: undefined });
  const { enableOfflineQueue: _q, ...nodeOptions } = commonOptions({ ...o, batch: false });
  const options: ClusterOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    clusterRetryStrategy: backoff(o.maxReconnectDelayMs),
    // Redirections and failover retries are kept short: the operation timeout is the budget.
    maxRedirections: 4,
    retryDelayOnFailover: 20,
    retryDelayOnClusterDown: 20,
    retryDelayOnTryAgain: 20,
    slotsRefreshTimeout: o.connectTimeoutMs,
    // ioredis does not refresh the topology on its own by default, and auto-pipelined
    // commands that get MOVED to different slots are not redirected: without a
    // periodic refresh a master that died and came back would stay unused.
    slotsRefreshInterval: Math.max(500, o.maxReconnectDelayMs),
    redisOptions: {
      ...nodeOptions,
      username: ep.username,
      password: ep.password,
      tls: ep.tls,
    },
  };
  return new Cluster(o.cluster ?? [], options);
}
