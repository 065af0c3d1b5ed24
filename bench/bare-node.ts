/**
 * A bare libp2p node (the machine's floor for the DHT benchmark): the same
 * services as a meshcache node (TCP, Noise, Yamux, identify, ping, kad-dht,
 * gossipsub with the same settings) and nothing of meshcache, driven over
 * stdin/stdout like examples/dht-node.ts (ready line; commands info, publish,
 * watch, stop). `watch` with `key` replies when a gossip message carrying that
 * key arrives; `publish` sends one and replies with the time it was sent.
 *
 *   node dist-bench/bench/bare-node.js [--bootstrap <multiaddr>,...] [--discovery-ms 3000]
 */

import { createInterface } from 'node:readline';
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

const { values } = parseArgs({
  strict: false,
  options: {
    bootstrap: { type: 'string', default: '' },
    name: { type: 'string', default: 'bare' },
    // How often the node looks up its own id, ms: 3 s for the DHT benchmark's quick mesh; the
    // scale benchmark passes meshcache's discoveryIntervalMs (60 s) to compare idle costs.
    'discovery-ms': { type: 'string', default: '3000' },
  },
});
const TOPIC = '/bare/events';
const now = () => performance.timeOrigin + performance.now();
const send = (msg: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(msg)}\n`);

const started = performance.now();
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
// biome-ignore lint/suspicious/noExplicitAny: gossipsub's service type is not exported in a usable form
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
const bootstrap = String(values.bootstrap)
  .split(',')
  .filter((s) => s.length > 0);
await Promise.allSettled(bootstrap.map((a) => node.dial(multiaddr(a))));
const startMs = performance.now() - started;
send({
  type: 'ready',
  name: values.name,
  peerId: node.peerId.toString(),
  addresses: node.getMultiaddrs().map(String),
  startMs,
  sinceProcessStartMs: performance.now(),
  rss: process.memoryUsage().rss,
});
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

async function handle(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
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
    case 'stop':
      await node.stop();
      setImmediate(() => process.exit(0));
      return {};
  }
  throw new Error(`unknown command ${String(cmd.cmd)}`);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as Record<string, unknown>;
  handle(cmd).then(
    (out) => send({ type: 'reply', id: cmd.id, ok: true, ...out }),
    (err: Error) => send({ type: 'reply', id: cmd.id, ok: false, error: err.message }),
  );
});
