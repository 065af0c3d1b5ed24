/**
 * A bare libp2p node (the machine's floor for the DHT benchmark): the same
 * services as a meshcache node (TCP, Noise, Yamux, identify, ping, kad-dht,
 * gossipsub with the same settings) and nothing of meshcache, driven over
 * stdin/stdout like examples/dht-node.ts (ready line; commands info, publish,
 * watch, stop). `watch` with `key` replies when a gossip message carrying that
 * key arrives; `publish` sends one and replies with the time it was sent.
 *
 *   node dist-bench/bench/bare-node.js [--bootstrap <multiaddr>,...] [--discovery-ms 3000] [--count 1]
 */

import { parseArgs } from 'node:util';
// Node 20 lacks Promise.withResolvers, which libp2p uses: the same polyfill as meshcache (nothing else of it).
import '#meshcache/polyfills.js';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { noise } from '@libp2p/noise';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { send, serveNodeCommands } from '../examples/command-loop.js';

const { values } = parseArgs({
  strict: false,
  options: {
    bootstrap: { type: 'string', default: '' },
    name: { type: 'string', default: 'bare' },
    // How often the node looks up its own id, ms: 3 s for the DHT benchmark's quick mesh; the
    // scale benchmark passes meshcache's discoveryIntervalMs (60 s) to compare idle costs.
    'discovery-ms': { type: 'string', default: '3000' },
    /** Nodes in this process (one unless the machine runs out of room for a process each). */
    count: { type: 'string', default: '1' },
  },
});
const TOPIC = '/bare/events';
const now = () => performance.timeOrigin + performance.now();

const started = performance.now();

/** One bare node: libp2p with meshcache's services, subscribed to TOPIC, looking up its own id now and then. */
async function startBare(bootstrap: string[]) {
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.1'] },
    services: {
      identify: identify(),
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }), // as src/network/libp2p.ts
      dht: kadDHT({ protocol: '/bare/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        floodPublish: true,
        scoreParams: { IPColocationFactorWeight: 0 },
      }),
    },
  });
  const pubsub = node.services.pubsub as any;
  pubsub.subscribe(TOPIC);
  const waiters = new Map<string, (at: number) => void>();
  pubsub.addEventListener('message', (evt: CustomEvent<{ topic: string; data: Uint8Array }>) => {
    if (evt.detail.topic !== TOPIC) return;
    const at = now();
    const { key } = JSON.parse(new TextDecoder().decode(evt.detail.data)) as { key: string };
    waiters.get(key)?.(at);
    waiters.delete(key);
  });
  await Promise.allSettled(bootstrap.map((a) => node.dial(multiaddr(a))));
  // Like the meshcache node's discovery: look up this node's id so it connects to the others.
  const discover = async () => {
    for await (const _ of node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes, {
      signal: AbortSignal.timeout(5_000),
    })) {
      // drain
    }
  };
  setTimeout(() => void discover().catch(() => {}), 500).unref();
  setInterval(() => void discover().catch(() => {}), Number(values['discovery-ms'])).unref();
  return { node, pubsub, waiters };
}

// With --count K this process holds K nodes (the scale benchmark's largest sizes); the first one
// joins --bootstrap (or starts alone), the others join it and --bootstrap.
const given = String(values.bootstrap)
  .split(',')
  .filter((s) => s.length > 0);
type Bare = Awaited<ReturnType<typeof startBare>>;
const nodes: Bare[] = [];
for (let i = 0; i < Math.max(1, Number(values.count)); i++) {
  const sibling = nodes[0]?.node.getMultiaddrs().map(String) ?? [];
  nodes.push(await startBare([...sibling, ...given]));
}
const { node } = nodes[0] as Bare;
const startMs = performance.now() - started;
send({
  type: 'ready',
  name: values.name,
  peerId: node.peerId.toString(),
  addresses: node.getMultiaddrs().map(String),
  nodes: nodes.map((n, i) => ({
    name: i === 0 ? values.name : `${values.name}.${i}`,
    peerId: n.node.peerId.toString(),
    addresses: n.node.getMultiaddrs().map(String),
  })),
  startMs,
  sinceProcessStartMs: performance.now(),
  rss: process.memoryUsage().rss,
});

async function handle(
  { node, pubsub, waiters }: Bare,
  cmd: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  switch (cmd.cmd) {
    case 'info':
      return {
        peerId: node.peerId.toString(),
        peers: node.getPeers().map(String),
        connections: node.getConnections().length,
        gossipPeers: pubsub.getSubscribers(TOPIC).map(String),
        memory: process.memoryUsage(),
      };
    case 'publish': {
      const at = now();
      await pubsub.publish(TOPIC, new TextEncoder().encode(JSON.stringify({ key: cmd.key })));
      return { at };
    }
    case 'watch': {
      const at = await new Promise<number>((resolve) => {
        waiters.set(String(cmd.key), resolve);
        send({ type: 'watching', id: cmd.id });
      });
      return { at };
    }
  }
  throw new Error(`unknown command ${String(cmd.cmd)}`);
}

serveNodeCommands(nodes, handle, (n) => n.node.stop());
