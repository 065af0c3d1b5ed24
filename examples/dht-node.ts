/**
 * One meshcache node as an OS process, driven over stdin/stdout (JSON lines).
 * Used by the cluster demo, the multi-process tests and the DHT benchmark.
 *
 *   node --import tsx examples/dht-node.ts --network demo --name n1 [--bootstrap <multiaddr>,...] [--psk <swarm.key>]
 *     [--services user,report,echo] [--identity <key file>] [--access-peers <peer id>,...|*]
 *
 * By default it hosts a `user` service whose `get_user` is cached (60 s, key `get_user:<id>`),
 * with the event rule `user.updated` → `get_user:{id}`, and `update_user`, which
 * publishes `user.updated` (`--services` may add `report`, examples/report-service.ts,
 * and `echo`, one uncached action of bench/scale/node-commands.ts, or leave `user`
 * out). On start it prints `{"type":"ready",...}`; then each
 * command line `{"id":1,"cmd":"request","path":"user/get_user","params":{"id":1}}`
 * gets one reply line `{"type":"reply","id":1,"ok":true,...}`. Commands:
 * request, publish, info, dht (direct backend calls), time (latency samples
 * measured inside the process), watch (report when an invalidation is applied),
 * stop, and the scale benchmark's (bench/scale/node-commands.ts). Values travel encoded with the cache codec (`encodeValue`).
 */
import '#meshcache/polyfills.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { destination, pino } from 'pino';
import { DhtBackend } from '#meshcache/cache/backends/dht/index.js';
import { MemoryBackend } from '#meshcache/cache/backends/memory.js';
import { decodeValue, encodeValue } from '#meshcache/codec/index.js';
import { Node, type RequestContext } from '#meshcache/index.js';
import { eventsTopic, type MeshNetwork } from '#meshcache/network/index.js';
import { rawGet, rawPut } from '../bench/raw-kad.js';
import {
  echoService,
  invalidationApplied,
  scaleCommand,
  summary,
  timeEach,
} from '../bench/scale/node-commands.js';
import { send, serveCommands } from './command-loop.js';
import { reportService } from './report-service.js';

const { values } = parseArgs({
  options: {
    network: { type: 'string', default: 'demo' },
    name: { type: 'string', default: `node-${process.pid}` },
    bootstrap: { type: 'string', default: '' },
    listen: { type: 'string', default: '/ip4/127.0.0.1/tcp/0' },
    psk: { type: 'string' },
    backend: { type: 'string', default: 'dht' },
    replication: { type: 'string', default: '3' },
    /** `off`: no near tier in front of the DHT (benchmarks of the DHT path itself). */
    near: { type: 'string', default: 'on' },
    'log-level': { type: 'string', default: 'warn' },
    /** A JSON file shared by the processes as their "database" of user names (default: in memory). */
    db: { type: 'string' },
    /** What this node hosts, comma-separated: `user` (the default), `report` (examples/report-service.ts). */
    services: { type: 'string', default: 'user' },
    /** A key file: the node keeps this peer id across starts (`network.identity`). */
    identity: { type: 'string' },
    /** Peer ids (comma-separated, or `*`) allowed to manage this node's caches from elsewhere. */
    'access-peers': { type: 'string' },
    /** `cache.coherence.maxStalenessMs` (default 1000; 0: no bound). */
    'max-staleness-ms': { type: 'string', default: '1000' },
    /** `cache.coherence.boundMemory`: memory backends cleared while out of touch. */
    'bound-memory': { type: 'boolean', default: false },
  },
});

const now = () => performance.timeOrigin + performance.now();
const logger = pino({ level: values['log-level'] }, destination(2));
const name = values.name;
const counts = { get_user: 0, update_user: 0, report: 0 };
const hosted = new Set(values.services.split(',').filter((s) => s.length > 0));
const accessPeers = values['access-peers'];
const dht = new DhtBackend({ replication: Number(values.replication) });
const memory = new MemoryBackend();
const bootstrap = values.bootstrap.split(',').filter((s) => s.length > 0);

/** `--network none`: a node of one process (no libp2p; memory backend), for weight comparisons. */
const networked = values.network !== 'none';
const node = new Node({
  logger,
  ...(networked
    ? {
        network: {
          id: values.network,
          listen: [values.listen],
          bootstrap,
          ...(values.psk === undefined ? {} : { psk: values.psk }),
          ...(values.identity === undefined ? {} : { identity: values.identity }),
        },
      }
    : {}),
  backends: networked ? { dht } : {},
  config: {
    cache: {
      enabled: true,
      backend: networked ? values.backend : 'memory',
      near: { enabled: values.near !== 'off' },
      ttl: 60,
      failure: { opTimeoutMs: 5000 },
      coherence: {
        maxStalenessMs: Number(values['max-staleness-ms']),
        boundMemory: values['bound-memory'],
      },
      ...(accessPeers === undefined
        ? {}
        : { access: { peers: accessPeers === '*' ? ('*' as const) : accessPeers.split(',') } }),
    },
    services: { user: { cache: { events: [{ event: 'user.updated', keys: ['get_user:{id}'] }] } } },
  },
});

const seed: Record<string, string> = { 1: 'Ada Lovelace', 2: 'Alan Turing', 3: 'Grace Hopper' };
let memoryDb = { ...seed };
const dbFile = values.db;
/** The stand-in database: a JSON file shared by all node processes (or a map in memory). */
const users = {
  get(id: number): string | undefined {
    if (dbFile === undefined) return memoryDb[id];
    try {
      return (JSON.parse(readFileSync(dbFile, 'utf8')) as Record<string, string>)[id];
    } catch {
      return seed[id];
    }
  },
  set(id: number, userName: string): void {
    if (dbFile === undefined) {
      memoryDb = { ...memoryDb, [id]: userName };
      return;
    }
    let all: Record<string, string> = { ...seed };
    try {
      all = JSON.parse(readFileSync(dbFile, 'utf8')) as Record<string, string>;
    } catch {}
    all[id] = userName;
    writeFileSync(dbFile, JSON.stringify(all));
  },
};

if (hosted.has('user'))
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { enabled: true, ttl: 60, keys: ['id'] },
        handler: async (_ctx: RequestContext, p: { id: number }) => {
          counts.get_user++;
          await new Promise((r) => setTimeout(r, 20)); // a "database" read
          return { id: p.id, name: users.get(p.id) ?? `user ${p.id}`, computedBy: name };
        },
      },
      update_user: async (ctx: RequestContext, p: { id: number; name: string }) => {
        counts.update_user++;
        users.set(p.id, p.name);
        await ctx.publish('user.updated', { id: p.id });
        return { id: p.id, name: p.name };
      },
    },
  });

if (hosted.has('report')) node.addService(reportService(name, () => ++counts.report));
if (hosted.has('echo')) node.addService(echoService());

/** Measures a synchronous hit in batches (per-op ns, p50/p99 over batches). */
function timeSync(
  key: string,
  op: (key: string) => unknown,
  batches = 200,
  perBatch = 2000,
): ReturnType<typeof summary> {
  const samples: number[] = [];
  let sink = 0;
  for (let b = 0; b < batches; b++) {
    const t = performance.now();
    for (let i = 0; i < perBatch; i++) if (op(key) !== undefined) sink++;
    samples.push(((performance.now() - t) * 1e6) / perBatch);
  }
  if (sink === 0) throw new Error(`no hit for ${key}`);
  return summary(samples);
}

const network = () => node.network as unknown as MeshNetwork;

async function handle(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
  switch (cmd.cmd) {
    case 'request': {
      // Handler runs here (get_user or report): a miss on this node.
      const before = counts.get_user + counts.report;
      const startedAt = now();
      const t = performance.now();
      const result = await node.request(String(cmd.path), cmd.params as Record<string, unknown>);
      return {
        result: encodeValue(result),
        ran: counts.get_user + counts.report - before,
        ms: performance.now() - t,
        startedAt,
      };
    }
    case 'publish':
      await node.publish(String(cmd.topic), cmd.data);
      return {};
    case 'direct-mode':
      // `single`: one-hop requests on a new stream each (protocol 1.0.0, before); `mux`: the long-lived stream.
      network().direct.mode = cmd.mode === 'single' ? 'single' : 'mux';
      return {};
    case 'window-mode':
      // Benchmarks compare yamux window updates after every frame and deferred ones (both sides).
      network().direct.windowUpdates = cmd.mode === 'yamux' ? 'yamux' : 'deferred';
      network().direct.reset();
      return {};
    case 'control-mode':
      // Benchmarks compare invalidations sent direct-only (gossip as fallback) and direct + gossip.
      network().controlGossip = cmd.mode === 'always' ? 'always' : 'fallback';
      return {};
    case 'ack-mode':
      // Benchmarks compare sets acknowledged by every holder and by the closest one.
      (dht.options as { writeAck: string }).writeAck = cmd.mode === 'primary' ? 'primary' : 'all';
      return {};
    case 'read-mode':
      // Benchmarks compare the two one-hop read strategies in the same processes.
      (dht.options.oneHop as { read: string }).read = cmd.mode === 'parallel' ? 'parallel' : 'hedged';
      return {};
    case 'info': {
      if (!networked) return { peers: [], memory: process.memoryUsage() };
      const net = network();
      return {
        peerId: net.peerId,
        addresses: net.addresses(),
        peers: net.peers(),
        services: [...hosted],
        // Services some other member announced hosting: a request for them reaches that member.
        reachable: [
          ...new Set(net.peers().flatMap((p) => net.catalogs.of(p)?.services.map((s) => s.name) ?? [])),
        ].filter((s) => !s.startsWith('$')),
        gossipPeers: (net.libp2p?.services.pubsub.getSubscribers(eventsTopic(net.networkId)) ?? [])
          .map(String)
          .filter((p: string) => net.peers().includes(p)),
        counts,
        memory: process.memoryUsage(),
        cache: node.cache.stats(),
        dht: dht.stats(),
        // Whether every member was heard within the staleness bound (src/network/heartbeats.ts).
        touch: { inTouch: net.inTouch, ...net.heartbeatCounters },
      };
    }
    case 'dht': {
      const key = String(cmd.key ?? '');
      switch (cmd.op) {
        case 'get':
          return { value: encodeValue(await dht.get(key)) };
        case 'set':
          await dht.set(key, decodeValue(String(cmd.value)), Number(cmd.ttl ?? 60));
          return {};
        case 'delete':
          return { deleted: await dht.delete(key) };
        case 'clear':
          return { cleared: dht.clear(String(cmd.prefix ?? '')), at: now() };
        case 'revoke': {
          const at = now();
          return { revoked: dht.revoke(String(cmd.prefix), String(cmd.pattern)), at };
        }
      }
      throw new Error(`unknown dht op ${String(cmd.op)}`);
    }
    case 'time': {
      const keys = (cmd.keys as string[]) ?? [];
      const value = { id: 1, name: 'x'.repeat(Number(cmd.size ?? 100)) };
      const raw = new TextEncoder().encode(encodeValue(value));
      const signal = () => AbortSignal.timeout(5000);
      switch (cmd.op) {
        case 'set':
          return { stats: await timeEach(keys, (k) => dht.set(k, value, 600)) };
        case 'get':
          return { stats: await timeEach(keys, (k) => dht.get(k)) };
        case 'getRemote': {
          // Only keys this node holds no copy of: every read is a network round trip.
          const net = network();
          const own = (k: string) =>
            (net.holdersOf(k, Number(values.replication)) ?? []).includes(net.peerId);
          return {
            stats: await timeEach(
              keys.filter((k) => !own(k)),
              (k) => dht.get(k),
            ),
          };
        }
        case 'request':
          // get_user through node.request (keys: ids): the interceptor, the key, the DHT backend.
          return {
            stats: await timeEach(keys, (id) => node.request('user/get_user', { id: Number(id) })),
          };
        case 'directOne':
        case 'directAll': {
          // The floor of a one-hop read: direct gets to the key's remote holders (one, or all in parallel).
          const net = network();
          const remote = (k: string) =>
            (net.holdersOf(k, Number(values.replication)) ?? []).filter((p) => p !== net.peerId);
          return {
            stats: await timeEach(keys, async (k) => {
              const peers = remote(k);
              const ask = cmd.op === 'directOne' ? peers.slice(0, 1) : peers;
              await Promise.all(ask.map((p) => net.dht.directGet(p, k, signal())));
            }),
          };
        }
        case 'putAll': {
          // The floor of a one-hop write: the record straight to the key's holders, nothing else.
          const net = network();
          return {
            stats: await timeEach(keys, async (k) => {
              const record = {
                value: encodeValue(value),
                expiresAt: Date.now() + 600_000,
                writtenAt: Date.now(),
                writer: net.peerId,
              };
              await Promise.all(
                (net.holdersOf(k, Number(values.replication)) ?? []).map((p) =>
                  net.dht.directPut(p, k, record, signal()),
                ),
              );
            }),
          };
        }
        case 'rawPut':
          return { stats: await timeEach(keys, (k) => rawPut(network(), k, raw, signal())) };
        case 'rawGet':
          return { stats: await timeEach(keys, (k) => rawGet(network(), k, signal())) };
        case 'nearGet': {
          const key = keys[0] as string;
          if ((await dht.get(key)) === undefined) throw new Error(`no value for ${key}`);
          return { stats: timeSync(key, (k) => dht.get(k)) };
        }
        case 'memGet': {
          const key = keys[0] as string;
          memory.set(key, value, 600);
          return { stats: timeSync(key, (k) => memory.get(k)) };
        }
      }
      throw new Error(`unknown time op ${String(cmd.op)}`);
    }
    case 'watch':
      // Replies once an invalidation matching `key` or `prefix` was applied here, with the time it happened.
      return {
        at: await invalidationApplied(dht, cmd, () => send({ type: 'watching', id: cmd.id })),
      };
    case 'watchNotice': {
      // Replies once another node's invalidation notice naming `key` arrived here (the near
      // bus, registered at start, has applied it by the time this later listener runs).
      const key = String(cmd.key);
      const at = await new Promise<number>((resolve) => {
        const off = network().onInvalidation((notice) => {
          if (notice.op === 'delete' && !(notice.keys ?? []).includes(key)) return;
          off();
          resolve(now());
        });
        send({ type: 'watching', id: cmd.id });
      });
      return { at };
    }
    case 'holds': {
      // How many of `keys` this node stores as live values (replication checks).
      const dhtNet = network().dht;
      const keys = (cmd.keys as string[]) ?? [];
      return {
        count: keys.filter((k) => dhtNet.readLocal(k)?.deleted !== true && dhtNet.readLocal(k) !== undefined)
          .length,
      };
    }
    case 'stop':
      await node.stop();
      setImmediate(() => process.exit(0));
      return {};
  }
  const scaled = networked ? await scaleCommand(cmd, { node, dht, network }) : undefined;
  if (scaled !== undefined) return scaled;
  throw new Error(`unknown command ${String(cmd.cmd)}`);
}

const started = performance.now();
await node.start();
const startMs = performance.now() - started;
send({
  type: 'ready',
  name,
  peerId: networked ? network().peerId : '',
  addresses: networked ? network().addresses() : [],
  startMs,
  sinceProcessStartMs: performance.now(),
  rss: process.memoryUsage().rss,
});

serveCommands(handle, () => node.stop());
