/**
 * Redis benchmarks: `npx tsx bench/redis.ts` (writes bench/results/redis.md too).
 *
 * Starts its own redis-server on a free loopback port, then measures, with 100
 * calls in flight and sequentially, on the same keys and server:
 * raw ioredis GET (with and without auto-pipelining), RedisBackend.get (per-tick
 * MGET batching, and plain auto-pipelined GETs), cached hits through
 * `node.request()` with the Redis backend, and Moleculer 0.14's Redis cacher on
 * the same workload. Then a revoke of 100k keys among 1M, timed, while a probe
 * client in a worker thread measures the longest stall it sees.
 */
import '../src/polyfills.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RedisBackend } from '../src/cache/backends/redis.js';
import { encodeValue } from '../src/codec/index.js';
import { Node } from '../src/index.js';
import { RedisServer } from '../test/helpers/redis-server.js';
import { type Case, concurrent, measure, sequential, table } from './harness.js';

const KEYS = 1000;
const IN_FLIGHT = 100;
const silent = pino({ level: 'silent' });
const user = (id: number) => ({ id, name: `user ${id}`, email: `user${id}@example.com`, active: true });

/** The hot-path tables: every client on the same server and keys. */
async function throughput(server: RedisServer): Promise<string[]> {
  const plain = new Redis({ host: server.host, port: server.port, lazyConnect: true });
  const piped = new Redis({
    host: server.host,
    port: server.port,
    lazyConnect: true,
    enableAutoPipelining: true,
  });
  await plain.connect();
  await piped.connect();
  const keys = Array.from({ length: KEYS }, (_, i) => `bench:raw:${i}`);
  for (let i = 0; i < KEYS; i++) await plain.set(keys[i], encodeValue(user(i)));

  const batched = new RedisBackend({ url: server.url, operationTimeoutMs: 2000 });
  const unbatched = new RedisBackend({ url: server.url, operationTimeoutMs: 2000, batch: false });
  await batched.open();
  await unbatched.open();
  const cacheKeys = Array.from({ length: KEYS }, (_, i) => `cache:bench/user/get_user:${i}`);
  for (let i = 0; i < KEYS; i++) await batched.set(cacheKeys[i], user(i), 0);

  const node = new Node({
    logger: silent,
    config: {
      cache: {
        backend: 'redis',
        redis: { url: server.url, operationTimeoutMs: 2000 },
        failure: { opTimeoutMs: 5000 },
        // The Redis path itself (bench/near.ts measures the near tier in front of it).
        near: { enabled: false },
      },
    },
  });
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { ttl: 3600, keys: ['id'] },
        handler: async (_c: unknown, p: { id: number }) => user(p.id),
      },
    },
  });
  await node.start();
  const params = Array.from({ length: KEYS }, (_, id) => ({ id }));
  for (const p of params) await node.request('user/get_user', p);

  const { ServiceBroker } = (await import('moleculer')).default;
  const broker = new ServiceBroker({
    logger: false,
    metrics: false,
    tracing: false,
    cacher: { type: 'Redis', options: { redis: { host: server.host, port: server.port } } },
  });
  broker.createService({
    name: 'user',
    actions: {
      get: { cache: { keys: ['id'] }, handler: (ctx: { params: { id: number } }) => user(ctx.params.id) },
    },
  });
  await broker.start();
  for (const p of params) await broker.call('user.get', p);

  // Sanity: every path returns the cached user.
  const check = [
    await plain.get(keys[7]),
    await batched.get(cacheKeys[7]),
    await node.request('user/get_user', { id: 7 }),
    await broker.call('user.get', { id: 7 }),
  ];
  if (JSON.stringify(check[1]) !== JSON.stringify(user(7)) || (check[2] as { id: number }).id !== 7) {
    throw new Error(`benchmark paths disagree: ${JSON.stringify(check)}`);
  }

  let i = 0;
  const next = () => (i = (i + 1) % KEYS);
  const ops: Array<[string, () => Promise<unknown>]> = [
    ['raw ioredis GET', () => plain.get(keys[next()])],
    ['raw ioredis GET, auto-pipelining', () => piped.get(keys[next()])],
    ['RedisBackend.get (own per-tick batching, MGET)', () => batched.get(cacheKeys[next()])],
    ['RedisBackend.get (batch: false, ioredis auto-pipelining)', () => unbatched.get(cacheKeys[next()])],
    ['node.request, redis backend (hit)', () => node.request('user/get_user', params[next()])],
    ['Moleculer 0.14 Redis cacher (hit)', () => broker.call('user.get', params[next()])],
  ];
  const base = 'raw ioredis GET, auto-pipelining';
  const withFlight: Case[] = ops.map(([name, op]) => ({ name, run: concurrent(op, IN_FLIGHT) }));
  const oneByOne: Case[] = ops.map(([name, op]) => ({ name, run: sequential(op) }));
  const out = [
    table(`Cached reads, ${IN_FLIGHT} in flight`, await measure(withFlight), base),
    table('Cached reads, sequential (1 in flight)', await measure(oneByOne), base),
  ];

  await broker.stop();
  await node.stop();
  await batched.close();
  await unbatched.close();
  plain.disconnect();
  piped.disconnect();
  return out;
}

/** A worker thread that GETs one key in a loop over its own socket and reports the longest wait. */
function startProbe(port: number): { stop: () => Promise<{ maxMs: number; p99Ms: number; count: number }> } {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const net = require('node:net');
    const sock = net.connect(workerData.port, '127.0.0.1');
    sock.setNoDelay(true);
    const samples = [];
    let stop = false, t0 = 0;
    parentPort.on('message', () => { stop = true; });
    const send = () => { t0 = performance.now(); sock.write('GET probe\\r\\n'); };
    let buf = '';
    sock.on('connect', send);
    sock.on('data', (d) => {
      buf += d.toString();
      if (!buf.endsWith('\\r\\n') || (buf.startsWith('$') && buf.split('\\r\\n').length < 3)) return;
      buf = '';
      samples.push(performance.now() - t0);
      if (stop) {
        samples.sort((a, b) => a - b);
        parentPort.postMessage({ maxMs: samples[samples.length - 1], p99Ms: samples[Math.floor(samples.length * 0.99)], count: samples.length });
        sock.destroy();
      } else send();
    });`;
  const worker = new Worker(code, { eval: true, workerData: { port } });
  return {
    stop: () =>
      new Promise((resolve) => {
        worker.once('message', (m) => {
          void worker.terminate();
          resolve(m);
        });
        worker.postMessage('stop');
      }),
  };
}

/** Revoke of 100k keys among 1M, with the stall a concurrent client sees. */
async function revokeAtScale(server: RedisServer): Promise<string> {
  const raw = new Redis({ host: server.host, port: server.port, lazyConnect: true });
  await raw.connect();
  await raw.flushall();
  await raw.set('probe', 'x');
  const value = encodeValue(user(1));
  const fill = async (from: number, to: number, name: (i: number) => string) => {
    for (let start = from; start < to; start += 10_000) {
      const p = raw.pipeline();
      for (let i = start; i < Math.min(to, start + 10_000); i++) p.set(name(i), value);
      await p.exec();
    }
  };
  const t0 = performance.now();
  await fill(0, 900_000, (i) => `cache:bench/user/get_profile:${i}`);
  await fill(0, 100_000, (i) => `cache:bench/user/get_user:${i}`);
  const fillMs = performance.now() - t0;
  const total = await raw.dbsize();

  const rows: string[] = [];
  const idle = startProbe(server.port);
  await new Promise((r) => setTimeout(r, 1000));
  const base = await idle.stop();
  rows.push(
    `| idle server (1 s, baseline) | - | - | ${base.maxMs.toFixed(2)} | ${base.p99Ms.toFixed(3)} | ${base.count} |`,
  );

  for (const scanCount of [1000, 5000]) {
    if (scanCount !== 1000) await fill(0, 100_000, (i) => `cache:bench/user/get_user:${i}`);
    const backend = new RedisBackend({ url: server.url, scanCount, operationTimeoutMs: 5000 });
    await backend.open();
    const probe = startProbe(server.port);
    await new Promise((r) => setTimeout(r, 50));
    const start = performance.now();
    const revoked = await backend.revoke('cache:bench/user/', 'get_user:*');
    const ms = performance.now() - start;
    const seen = await probe.stop();
    await backend.close();
    rows.push(
      `| RedisBackend.revoke, SCAN COUNT ${scanCount} + UNLINK | ${revoked} | ${ms.toFixed(0)} | ${seen.maxMs.toFixed(2)} | ${seen.p99Ms.toFixed(3)} | ${seen.count} |`,
    );
  }

  // For contrast: what one KEYS over the same keyspace does to other clients (nothing deleted).
  const probe = startProbe(server.port);
  await new Promise((r) => setTimeout(r, 50));
  const ks = performance.now();
  const found = await raw.keys('cache:bench/user/get_profile:1*');
  const keysMs = performance.now() - ks;
  const seen = await probe.stop();
  rows.push(
    `| contrast: one KEYS (matches ${found.length}, deletes nothing) | - | ${keysMs.toFixed(0)} | ${seen.maxMs.toFixed(2)} | ${seen.p99Ms.toFixed(3)} | ${seen.count} |`,
  );
  await raw.flushall();
  raw.disconnect();
  return [
    `### Revoke 100k matching keys among ${total.toLocaleString('en-US')} (filled in ${(fillMs / 1000).toFixed(1)} s with pipelined SETs)`,
    '',
    'A probe client (worker thread, own socket) GETs one key in a loop meanwhile; "longest stall" is its slowest GET.',
    '',
    '| operation | removed | time ms | longest stall ms | probe p99 ms | probe GETs |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

/** Runs every Redis benchmark and returns the markdown. */
export async function benchRedis(): Promise<string> {
  const server = await RedisServer.start();
  try {
    const version = (await server.cli('INFO', 'server')).match(/redis_version:(\S+)/)?.[1] ?? 'unknown';
    const header = [
      `Machine: ${os.cpus().length} cores (nproc ${nproc()}), ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, redis-server ${version} (own process on 127.0.0.1:${server.port}, --save "" --appendonly no), ioredis 5.11, moleculer 0.14`,
      `Command: \`npx tsx bench/redis.ts\` (BENCH_MS=${process.env.BENCH_MS ?? 1000}, BENCH_ROUNDS=${process.env.BENCH_ROUNDS ?? 3}; median of rounds)`,
      `Date: ${new Date().toISOString()}; load average at start ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (a shared 2-core machine: other work runs alongside, expect noise)`,
      '',
    ];
    const tables = await throughput(server);
    const revoke = await revokeAtScale(server);
    return [...header, ...tables.flatMap((t) => [t, '']), revoke, ''].join('\n');
  } finally {
    await server.stop();
  }
}

function nproc(): string {
  try {
    return execFileSync('nproc').toString().trim();
  } catch {
    return String(os.cpus().length);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const md = `# Redis backend benchmarks\n\n${await benchRedis()}`;
  console.log(md);
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'redis.md'), md);
  console.log(`(saved to ${join(dir, 'redis.md')})`);
}
