/**
 * What tags cost on the hit path. A cached hit through `node.request()`
 * of an untagged action vs the same action with `tags: ['user:{id}']`, on the
 * memory backend and on Redis (a redis-server started for the run): with the
 * near tier (hits answered in process, tagged copies included) and without it
 * (every hit a Redis round trip: GET vs the tagged read script), with the
 * lru-cache baseline of bench/cache-hit.ts in the memory tables.
 */
import { LRUCache } from 'lru-cache';
import { pino } from 'pino';
import { Node } from '../src/index.js';
import { RedisServer, redisAvailable } from '../test/helpers/redis-server.js';
import { type Case, LOADS, measure, table } from './harness.js';
import { tagPropagation } from './tag-propagation.js';

const KEYS = 1000;
const silent = pino({ level: 'silent' });
const user = (id: number) => ({ id, name: `user ${id}`, email: `u${id}@example.com` });

async function policyNode(cache: Record<string, unknown>): Promise<Node> {
  const handler = async (_ctx: unknown, p: { id: number }) => user(p.id);
  const node = new Node({ env: {}, logger: silent, config: { cache } });
  node.addService({
    name: 'user',
    actions: {
      untagged: { cache: { ttl: 3600, keys: ['id'] }, handler },
      tagged: { cache: { ttl: 3600, keys: ['id'], tags: ['user:{id}'] }, handler },
      graced: { cache: { ttl: 3600, keys: ['id'], grace: 60 }, handler },
    },
  });
  await node.start();
  for (let id = 0; id < KEYS; id++) {
    await node.request('user/untagged', { id });
    await node.request('user/tagged', { id });
    await node.request('user/graced', { id });
  }
  // A tagged copy enters the near tier on its first read, not on the write (src/cache/read/miss.ts).
  for (let id = 0; id < KEYS; id++) await node.request('user/tagged', { id });
  return node;
}

export async function benchPolicies(): Promise<string> {
  const params = Array.from({ length: KEYS }, (_, id) => ({ id }));
  const keys = params.map((p) => `get_user:${p.id}`);
  let i = 0;
  const next = () => {
    i = (i + 1) % KEYS;
    return params[i];
  };
  const lru = new LRUCache<string, object>({ max: 100_000, ttl: 3_600_000 });
  for (let k = 0; k < KEYS; k++) lru.set(keys[k], user(k));
  const out: string[] = [];

  const memory = await policyNode({});
  for (const [label, mode] of LOADS) {
    const cases: Case[] = [
      {
        name: 'raw lru-cache get (sync)',
        run: (n) => {
          for (let k = 0; k < n; k++) {
            i = (i + 1) % KEYS;
            lru.get(keys[i]);
          }
        },
      },
      { name: 'untagged hit', run: mode(() => memory.request('user/untagged', next())) },
      { name: "tagged hit (tags: ['user:{id}'])", run: mode(() => memory.request('user/tagged', next())) },
      { name: 'hit with grace: 60', run: mode(() => memory.request('user/graced', next())) },
    ];
    out.push(table(`Memory backend, ${label} (${KEYS} keys)`, await measure(cases), 'untagged hit'));
  }
  await memory.stop();

  if (!redisAvailable()) {
    out.push('Redis: redis-server not installed, skipped.');
    return out.join('\n\n');
  }
  const server = await RedisServer.start();
  try {
    const redis = { url: server.url, operationTimeoutMs: 2000 };
    const near = await policyNode({ backend: 'redis', redis, failure: { opTimeoutMs: 5000 } });
    const far = await policyNode({
      backend: 'redis',
      redis,
      failure: { opTimeoutMs: 5000 },
      near: { enabled: false },
    });
    for (const [label, mode] of LOADS) {
      const cases: Case[] = [
        { name: 'untagged near hit', run: mode(() => near.request('user/untagged', next())) },
        { name: 'tagged near hit', run: mode(() => near.request('user/tagged', next())) },
        { name: 'untagged Redis hit (near off: GET)', run: mode(() => far.request('user/untagged', next())) },
        {
          name: 'tagged Redis hit (near off: script)',
          run: mode(() => far.request('user/tagged', next())),
        },
      ];
      out.push(table(`Redis backend, ${label} (${KEYS} keys)`, await measure(cases), 'untagged near hit'));
    }
    const s = near.cache.stats();
    out.push(
      `near tier of the near-on node: ${s.near?.hits} near hits of ${s.hits} hits, ${s.misses} misses (${KEYS * 3} of them at warm-up)`,
    );
    await near.stop();
    await far.stop();
    out.push(await missCost(server));
    out.push(await tagPropagation(server));
  } finally {
    await server.stop();
  }
  return out.join('\n\n');
}

/** The cost of a miss (unique key each time, handler answers at once) with and without `coalesce: 'cluster'`. */
async function missCost(server: RedisServer): Promise<string> {
  const handler = async (_ctx: unknown, p: { id: number }) => user(p.id);
  const node = new Node({
    env: {},
    logger: silent,
    config: { cache: { backend: 'redis', redis: { url: server.url, operationTimeoutMs: 2000 } } },
  });
  node.addService({
    name: 'miss',
    actions: {
      node: { cache: { ttl: 60, keys: ['id'] }, handler },
      cluster: { cache: { ttl: 60, keys: ['id'], coalesce: 'cluster' }, handler },
    },
  });
  await node.start();
  let n = 0;
  const out: string[] = [];
  for (const [label, mode] of LOADS) {
    const cases: Case[] = [
      { name: "miss, coalesce: 'node'", run: mode(() => node.request('miss/node', { id: n++ })) },
      { name: "miss, coalesce: 'cluster'", run: mode(() => node.request('miss/cluster', { id: n++ })) },
    ];
    out.push(
      table(`Redis miss (new key each call), ${label}`, await measure(cases), "miss, coalesce: 'node'"),
    );
  }
  await node.stop();
  return out.join('\n\n');
}
