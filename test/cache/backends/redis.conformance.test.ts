/**
 * The public conformance suite (meshcache/testing) against RedisBackend and a
 * real redis-server on a free loopback port (skipped loudly without one; fails under CI=true).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { RedisBackend } from '../../../src/cache/backends/redis.js';
import { runBackendConformance } from '../../../src/testing/index.js';
import {
  captureLogger,
  RedisCluster,
  type RedisServer,
  redisAvailable,
  startRedisServer,
} from '../../helpers/redis-server.js';

const available = redisAvailable();

// The suite checks semantics, not latency: the default 200 ms command bound is
// for serving requests, and a loaded 2-core machine can exceed it now and then.
const OP_TIMEOUT_MS = 5_000;

describe.skipIf(!available)('RedisBackend conformance (single server)', () => {
  let server: RedisServer;
  const log = captureLogger();

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const open = async (options: ConstructorParameters<typeof RedisBackend>[0] = {}) => {
    const backend = new RedisBackend({ url: server.url, operationTimeoutMs: OP_TIMEOUT_MS, ...options });
    await backend.open({ networkId: 'default', logger: log.logger });
    return backend;
  };

  // Redis expires keys itself: an expired one is never counted.
  runBackendConformance({
    name: 'redis',
    test: it,
    create: () => open(),
    capabilities: { expiredNotCounted: true },
  });
  runBackendConformance({
    name: 'redis (no batching, key prefix)',
    test: it,
    capabilities: { expiredNotCounted: true },
    create: () => open({ batch: false, keyPrefix: 'app1:' }),
  });
});

describe.skipIf(!available)('RedisBackend conformance (3-master Redis Cluster)', () => {
  let cluster: RedisCluster;
  const log = captureLogger();

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  runBackendConformance({
    name: 'redis cluster',
    test: it,
    capabilities: { expiredNotCounted: true },
    create: async () => {
      const backend = new RedisBackend({
        cluster: cluster.nodes.map((n) => `${n.host}:${n.port}`),
        operationTimeoutMs: OP_TIMEOUT_MS,
      });
      await backend.open({ networkId: 'default', logger: log.logger });
      return backend;
    },
  });
});
