/**
 * Caching is transparent for values parsed from JSON: a result's own
 * `__proto__` keys survive the miss and the hit, in both result modes, on every
 * backend (an uncached call keeps them, so a cached one must too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '../../../src/index.js';
import { testLogger } from '../../helpers/p2p.js';
import { type RedisServer, redisAvailable, startRedisServer } from '../../helpers/redis-server.js';

const parsed = () => JSON.parse('{"__proto__": {"x": 1}, "y": 2, "list": [{"__proto__": 5}]}');

function check(value: unknown): void {
  const v = value as Record<string, unknown>;
  expect(Object.hasOwn(v, '__proto__')).toBe(true);
  expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  expect(JSON.stringify(v)).toBe('{"__proto__":{"x":1},"y":2,"list":[{"__proto__":5}]}');
}

async function roundTrip(cache: Record<string, unknown>, network?: { id: string }): Promise<void> {
  for (const results of ['frozen', 'copy'] as const) {
    const node = new Node({
      logger: testLogger(),
      env: {},
      config: {
        cache: {
          ...cache,
          prefix: `${results}-${Date.now()}-${cache.near === undefined ? 'near' : 'off'}:`,
          results,
        },
      },
      ...(network ? { network } : {}),
    });
    let calls = 0;
    node.addService({
      name: 's',
      actions: {
        a: {
          cache: { ttl: 60 },
          handler: () => {
            calls++;
            return parsed();
          },
        },
      },
    });
    await node.start();
    try {
      check(await node.request('s/a'));
      check(await node.request('s/a'));
      expect(calls, `${JSON.stringify(cache)} ${results}: the second call is a hit`).toBe(1);
    } finally {
      await node.stop();
    }
  }
}

describe('own __proto__ keys of a cached result', () => {
  it('memory backend, frozen and copy', () => roundTrip({ backend: 'memory' }));
  it('DHT backend (a one-node network), frozen and copy', () =>
    roundTrip({ backend: 'dht' }, { id: 'proto-dht' }));

  describe.skipIf(!redisAvailable())('Redis', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterAll(async () => {
      await server?.stop();
    });
    it('Redis backend with and without a near tier, frozen and copy', async () => {
      await roundTrip({ backend: 'redis', redis: { url: server.url } });
      await roundTrip({
        backend: 'redis',
        redis: { url: server.url },
        near: { enabled: false },
      });
    });
  });
});
