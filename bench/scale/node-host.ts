/**
 * Several meshcache nodes in one OS process, for networks larger than the
 * machine gives a process each (the scale benchmark at 50 and 100 nodes).
 * Each node is a whole one: its own Node, libp2p, DHT backend and caches,
 * configured as examples/dht-node.ts with `--near off`; they share only the
 * event loop and the heap. Driven like dht-node.ts over stdin/stdout (JSON
 * lines), every command naming its node by index (`"node": 2`); `stop`
 * stops them all. The ready line lists the nodes.
 *
 *   node dist-bench/bench/scale/node-host.js --network n --name host-2 --nodes node-5,node-6
 *     [--bootstrap <multiaddr>,...] [--echo node-2] [--max-staleness-ms 1000]
 *
 * The first node of the list joins --bootstrap (or starts alone without it);
 * the others join it and --bootstrap. Commands: scale-stats, load, time-call, cpu-profile (node-commands.ts),
 * time (set, get, getRemote), watch, dht revoke, info, stop.
 */
import '#meshcache/polyfills.js';
import { parseArgs } from 'node:util';
import { destination, pino } from 'pino';
import { DhtBackend } from '#meshcache/cache/backends/dht/index.js';
import { Node } from '#meshcache/index.js';
import type { MeshNetwork } from '#meshcache/network/index.js';
import { send, serveNodeCommands } from '../../examples/command-loop.js';
import { echoService, invalidationApplied, scaleCommand, timeEach } from './node-commands.js';

const { values } = parseArgs({
  options: {
    network: { type: 'string', default: 'scale' },
    name: { type: 'string', default: `host-${process.pid}` },
    nodes: { type: 'string', default: 'node-1' },
    bootstrap: { type: 'string', default: '' },
    echo: { type: 'string', default: '' },
    replication: { type: 'string', default: '3' },
    'max-staleness-ms': { type: 'string', default: '1000' },
    'log-level': { type: 'string', default: 'warn' },
    // dht-node.ts flags the harness passes to every node process; one value for all nodes here.
    near: { type: 'string', default: 'off' },
  },
});
if (values.near !== 'off') throw new Error('node-host runs its nodes without a near tier (--near off)');

interface Hosted {
  readonly name: string;
  readonly node: Node;
  readonly dht: DhtBackend;
  readonly network: () => MeshNetwork;
}

const logger = pino({ level: values['log-level'] }, destination(2));
const replication = Number(values.replication);

async function startNode(name: string, bootstrap: string[]): Promise<Hosted> {
  const dht = new DhtBackend({ replication });
  const node = new Node({
    logger: logger.child({ node: name }),
    network: { id: values.network, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap },
    backends: { dht },
    config: {
      cache: {
        enabled: true,
        backend: 'dht',
        near: { enabled: false },
        ttl: 60,
        failure: { opTimeoutMs: 5000 },
        coherence: { maxStalenessMs: Number(values['max-staleness-ms']) },
      },
    },
  });
  if (name === values.echo) node.addService(echoService());
  await node.start();
  return { name, node, dht, network: () => node.network as unknown as MeshNetwork };
}

const names = values.nodes.split(',').filter((s) => s.length > 0);
const given = values.bootstrap.split(',').filter((s) => s.length > 0);
const started = performance.now();
const hosted: Hosted[] = [];
for (const name of names) {
  // The first node joins the given bootstrap; the others join it as well as the given one, so
  // the network's first node is not dialled by every node of every process at once.
  const sibling = hosted[0]?.network().addresses() ?? [];
  hosted.push(await startNode(name, [...sibling, ...given]));
}

async function handle(h: Hosted, cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
  switch (cmd.cmd) {
    case 'info':
      return { peerId: h.network().peerId, peers: h.network().peers(), name: h.name };
    case 'time': {
      const keys = (cmd.keys as string[]) ?? [];
      const value = { id: 1, name: 'x'.repeat(Number(cmd.size ?? 100)) };
      switch (cmd.op) {
        case 'set':
          return { stats: await timeEach(keys, (k) => h.dht.set(k, value, 600)) };
        case 'get':
          return { stats: await timeEach(keys, (k) => h.dht.get(k)) };
        case 'getRemote': {
          const net = h.network();
          const own = (k: string) => (net.holdersOf(k, replication) ?? []).includes(net.peerId);
          return {
            stats: await timeEach(
              keys.filter((k) => !own(k)),
              (k) => h.dht.get(k),
            ),
          };
        }
      }
      throw new Error(`unknown time op ${String(cmd.op)}`);
    }
    case 'watch':
      return { at: await invalidationApplied(h.dht, cmd, () => send({ type: 'watching', id: cmd.id })) };
    case 'dht':
      if (cmd.op !== 'revoke') throw new Error(`unknown dht op ${String(cmd.op)}`);
      return {
        at: performance.timeOrigin + performance.now(),
        revoked: h.dht.revoke(String(cmd.prefix), String(cmd.pattern)),
      };
  }
  const scaled = await scaleCommand(cmd, h);
  if (scaled !== undefined) return scaled;
  throw new Error(`unknown command ${String(cmd.cmd)}`);
}

send({
  type: 'ready',
  name: values.name,
  peerId: hosted[0]?.network().peerId ?? '',
  addresses: hosted[0]?.network().addresses() ?? [],
  nodes: hosted.map((h) => ({
    name: h.name,
    peerId: h.network().peerId,
    addresses: h.network().addresses(),
  })),
  startMs: performance.now() - started,
  sinceProcessStartMs: performance.now(),
  rss: process.memoryUsage().rss,
});

serveNodeCommands(hosted, handle, (h) => h.node.stop());
