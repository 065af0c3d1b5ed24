/**
 * Near tier benchmarks: `npx tsx --expose-gc bench/near.ts` (or `npm run bench -- near`;
 * writes bench/results/near.md too).
 *
 * 1. A Redis-backed cached hit of a repeated key through `node.request`,
 *    sequential and 100 in flight, side by side in one run: meshcache with the
 *    near tier, without it, meshcache's memory backend, BentoCache (L1 memory +
 *    L2 Redis + Redis bus, `getOrSet`), and Moleculer 0.14's Redis cacher.
 * 2. Propagation: time from an invalidation on one node (a `cache/delete`, or a
 *    DEL by a plain Redis client) until every other node stops serving the
 *    entry, p50/p99, 2 and 5 nodes: Redis client tracking (in-process nodes),
 *    and the P2P bus (in-process libp2p nodes on 127.0.0.1, memory backend).
 * 3. Memory per near entry.
 */
import '../src/polyfills.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { NearTier } from '../src/cache/coherence/near-tier.js';
import { CacheEnvelope, snapshot } from '../src/cache/read/snapshot.js';
import type { NearSettings } from '../src/cache/setup/config.js';
import { Node } from '../src/index.js';
import { gossipPeers } from '../test/helpers/p2p.js';
import { RedisServer } from '../test/helpers/redis-server.js';
import { type Case, concurrent, machine, measure, sequential, table } from './harness.js';

const KEYS = 100;
const IN_FLIGHT = 100;
const SAMPLES = Number(process.env.NEAR_SAMPLES ?? 200);
const silent = pino({ level: 'silent' });
const user = (id: number) => ({ id, name: `user ${id}`, email: `user${id}@example.com`, active: true });

function userNode(cache: Record<string, unknown>, network?: Record<string, unknown>): Node {
  const node = new Node({
    logger: silent,
    env: {},
    ...(network ? { network: network as never } : {}),
    config: { cache: { ttl: 3600, failure: { opTimeoutMs: 5000 }, ...cache } },
  });
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { keys: ['id'] },
        handler: async (_c: unknown, p: { id: number }) => ({ ...user(p.id), version: state.version }),
      },
    },
  });
  return node;
}

const state = { version: 0 };

async function throughput(server: RedisServer): Promise<string[]> {
  const redis = { url: server.url, operationTimeoutMs: 2000 };
  const withNear = userNode({ backend: 'redis', redis });
  const withoutNear = userNode({ backend: 'redis', redis, near: { enabled: false } });
  const memory = userNode({ backend: 'memory' });
  for (const n of [withNear, withoutNear, memory]) await n.start();
  await new Promise((r) => setTimeout(r, 100));
  const params = Array.from({ length: KEYS }, (_, id) => ({ id }));
  for (const n of [withNear, withoutNear, memory])
    for (let k = 0; k < 2; k++) for (const p of params) await n.request('user/get_user', p);

  const { BentoCache, bentostore } = await import('bentocache');
  const { memoryDriver } = await import('bentocache/drivers/memory');
  const { redisDriver, redisBusDriver } = await import('bentocache/drivers/redis');
  const connection = { host: server.host, port: server.port };
  const bento = new BentoCache({
    default: 'tiered',
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 10_000 }))
        .useL2Layer(redisDriver({ connection }))
        .useBus(redisBusDriver({ connection })),
    },
  });
  const bentoKeys = params.map((p) => `user:${p.id}`);
  const bentoGet = (i: number) => bento.getOrSet({ key: bentoKeys[i], factory: () => user(i), ttl: '1h' });
  for (let i = 0; i < KEYS; i++) await bentoGet(i);

  const { ServiceBroker } = (await import('moleculer')).default;
  const broker = new ServiceBroker({
    logger: false,
    metrics: false,
    tracing: false,
    cacher: { type: 'Redis', options: { redis: connection } },
  });
  broker.createService({
    name: 'user',
    actions: {
      get: { cache: { keys: ['id'] }, handler: (ctx: { params: { id: number } }) => user(ctx.params.id) },
    },
  });
  await broker.start();
  for (const p of params) await broker.call('user.get', p);

  let i = 0;
  const next = () => (i = (i + 1) % KEYS);
  const ops: Array<[string, () => unknown]> = [
    ['meshcache memory backend', () => memory.request('user/get_user', params[next()])],
    ['meshcache redis + near tier', () => withNear.request('user/get_user', params[next()])],
    ['meshcache redis, near off', () => withoutNear.request('user/get_user', params[next()])],
    ['BentoCache 1.6 L1 memory + L2 Redis + bus (getOrSet)', () => bentoGet(next())],
    ['Moleculer 0.14 Redis cacher', () => broker.call('user.get', params[next()])],
  ];
  const base = 'BentoCache 1.6 L1 memory + L2 Redis + bus (getOrSet)';
  const out = [
    table(
      `Redis-backed cached hit (${KEYS} keys, repeated), ${IN_FLIGHT} in flight`,
      await measure(ops.map(([name, op]) => ({ name, run: concurrent(op, IN_FLIGHT) }) as Case)),
      base,
    ),
    table(
      `Redis-backed cached hit (${KEYS} keys, repeated), sequential`,
      await measure(ops.map(([name, op]) => ({ name, run: sequential(op) }) as Case)),
      base,
    ),
  ];
  const s = withNear.cache.stats();
  out.push(
    `near tier: mode ${s.near?.mode}, ${s.near?.hits.toLocaleString('en-US')} near hits, ${s.hits.toLocaleString('en-US')} hits`,
  );
  await broker.stop();
  await bento.disconnectAll();
  for (const n of [withNear, withoutNear, memory]) await n.stop();
  return out;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/**
 * Invalidates key `id` with `invalidate`, then polls every other node until it
 * answers the new version; returns, per sample, the slowest node's delay in ms.
 */
async function propagation(
  nodes: Node[],
  invalidate: (id: number) => Promise<unknown>,
  samples: number,
): Promise<{ p50: number; p99: number; max: number }> {
  const delays: number[] = [];
  const version = async (n: Node, id: number) =>
    ((await n.request('user/get_user', { id })) as { version: number }).version;
  for (let s = 0; s < samples; s++) {
    const id = 10_000 + s;
    state.version++;
    const old = state.version;
    for (const n of nodes) await version(n, id);
    for (const n of nodes) await version(n, id); // near tiers filled from the remote hit
    await new Promise((r) => setTimeout(r, 2));
    state.version++;
    const t0 = performance.now();
    await invalidate(id);
    const pending = new Set(nodes.slice(1));
    let worst = 0;
    while (pending.size > 0) {
      for (const n of [...pending]) {
        if ((await version(n, id)) !== old) {
          pending.delete(n);
          worst = performance.now() - t0;
        }
      }
      if (performance.now() - t0 > 5_000) throw new Error('invalidation did not propagate within 5 s');
      await new Promise((r) => setImmediate(r));
    }
    delays.push(worst);
  }
  delays.sort((a, b) => a - b);
  return { p50: percentile(delays, 0.5), p99: percentile(delays, 0.99), max: delays[delays.length - 1] };
}

async function propagationTables(server: RedisServer): Promise<string> {
  const rows: string[] = [];
  const row = (what: string, n: number, r: { p50: number; p99: number; max: number }) =>
    rows.push(
      `| ${what} | ${n} | ${SAMPLES} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(2)} |`,
    );
  const raw = new Redis({ host: server.host, port: server.port });
  for (const n of [2, 5]) {
    const nodes = Array.from({ length: n }, () => userNode({ backend: 'redis', redis: { url: server.url } }));
    for (const node of nodes) await node.start();
    await new Promise((r) => setTimeout(r, 200));
    row(
      'Redis tracking: `cache/delete` on node 1',
      n,
      await propagation(
        nodes,
        (id) => nodes[0].request('user/cache/delete', { key: `get_user:${id}` }),
        SAMPLES,
      ),
    );
    row(
      'Redis tracking: DEL by a plain Redis client',
      n,
      await propagation(nodes, (id) => raw.del(`cache:default/user/get_user:${id}`), SAMPLES),
    );
    for (const node of nodes) await node.stop();
  }
  raw.disconnect();
  for (const n of [2, 5]) {
    const first = userNode({ backend: 'memory' }, { id: 'near-bench' });
    await first.start();
    const rest = Array.from({ length: n - 1 }, () =>
      userNode({ backend: 'memory' }, { id: 'near-bench', bootstrap: first.network!.addresses() }),
    );
    await Promise.all(rest.map((m) => m.start()));
    const all = [first, ...rest];
    const end = Date.now() + 30_000;
    while (!all.every((m) => gossipPeers(m.network!).length >= n - 1)) {
      if (Date.now() > end) throw new Error('gossip mesh not formed');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1500)); // let the gossipsub mesh settle (heartbeats)
    row(
      'P2P bus (memory backend): `cache/delete` on node 1',
      n,
      await propagation(all, (id) => all[0].request('user/cache/delete', { key: `get_user:${id}` }), SAMPLES),
    );
    await Promise.allSettled(all.map((m) => m.stop()));
  }
  return [
    '### Propagation: invalidation on one node until every other node stops serving the entry',
    '',
    'Every node is polled in turn (`node.request`) until it answers the new value; a sample is the slowest node. All nodes run in this one process (the P2P nodes are in-process libp2p nodes on 127.0.0.1 TCP), so a delay includes waiting for this event loop.',
    '',
    '| path | nodes | samples | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

function memoryPerEntry(): string {
  const gc = (globalThis as { gc?: () => void }).gc;
  const settings: NearSettings = {
    enabled: true,
    maxEntries: 1_000_000,
    maxBytes: 0,
    maxAgeSeconds: 3600,
    redis: 'auto',
  };
  const n = 200_000;
  const rows: string[] = [];
  for (const bound of [0, 512 * 1024 * 1024]) {
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const tier = new NearTier({ ...settings, maxBytes: bound }, 'tracking');
    for (let i = 0; i < n; i++) {
      const s = snapshot(user(i));
      tier.fill(`cache:default/user/get_user:${i}`, new CacheEnvelope(s.value, 0, false), 3600, 0);
    }
    gc?.();
    const used = process.memoryUsage().heapUsed - before;
    rows.push(
      `| ${n.toLocaleString('en-US')} entries, ${bound === 0 ? 'entries bound only' : 'entries + bytes bound'} | ${(used / n).toFixed(0)} |`,
    );
    tier.close();
  }
  return [
    '### Memory per near entry',
    '',
    `Heap growth per entry (key \`cache:default/user/get_user:<i>\`, value a frozen 4-field user object in its envelope; includes key and value)${gc ? '' : ' (run with --expose-gc for steadier figures)'}.`,
    '',
    '| case | bytes per entry |',
    '|---|---:|',
    ...rows,
  ].join('\n');
}

export async function benchNear(): Promise<string> {
  const server = await RedisServer.start();
  try {
    const version = (await server.cli('INFO', 'server')).match(/redis_version:(\S+)/)?.[1] ?? 'unknown';
    const parts = [
      `Machine: ${machine()}, redis-server ${version} on 127.0.0.1:${server.port}`,
      '',
      ...(await throughput(server)).flatMap((t) => [t, '']),
      await propagationTables(server),
      '',
      memoryPerEntry(),
      '',
    ];
    return parts.join('\n');
  } finally {
    await server.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const md = `# Near tier benchmarks\n\n${await benchNear()}`;
  console.log(md);
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'near.md'), md);
  process.exit(0);
}
