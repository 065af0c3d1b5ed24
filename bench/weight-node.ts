/**
 * One process of the weight benchmark (bench/weight.ts), on the built package
 * (dist/, through dist-bench/): a meshcache node with one cached action, with
 * (`--network <id>`, DHT backend) or without (`--network none`, memory
 * backend) a network, and nothing else: no benchmark helpers, its default
 * logger. It serves `--hits` cached hits before it reports ready, so the
 * parts a serving node starts (the expiry clock) are counted.
 *
 * `--steps`: also reports `process.memoryUsage()` after each part as it loads
 * (imports are dynamic so each one is a step; run with --expose-gc for a GC
 * before each report). Driven like bench/bare-node.ts: a ready line, then the
 * commands `info` (memory now) and `stop` on stdin.
 *
 *   node --expose-gc dist-bench/bench/weight-node.js --network none --steps
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const t0 = performance.now();
const { values } = parseArgs({
  strict: false,
  options: {
    network: { type: 'string', default: 'none' },
    hits: { type: 'string', default: '1000' },
    steps: { type: 'boolean', default: false },
    metrics: { type: 'boolean', default: false },
  },
});
const send = (msg: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(msg)}\n`);
const gc = (globalThis as { gc?: () => void }).gc;
const step = (name: string) => {
  if (!values.steps) return;
  gc?.();
  send({
    type: 'step',
    name,
    ms: performance.now() - t0,
    memory: { ...process.memoryUsage(), anon: rssAnon() },
  });
};
/** Private resident memory (Linux; NaN elsewhere): RSS without the shared file pages of node and the sources. */
function rssAnon(): number {
  try {
    return Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}
/** What bench/bare-node.ts imports, to tell libp2p's share from ours. */
const LIBP2P = [
  'libp2p',
  '@libp2p/tcp',
  '@libp2p/noise',
  '@libp2p/yamux',
  '@libp2p/identify',
  '@libp2p/ping',
  '@libp2p/kad-dht',
  '@libp2p/gossipsub',
  '@libp2p/crypto/keys',
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const networked = values.network !== 'none';
step('process (node -e floor + this script)');
if (values.steps) {
  // The dependencies first, each its own step; the meshcache import then counts our modules only.
  await import('valibot');
  step('import valibot');
  await import('pino');
  step('import pino');
  if (networked) {
    await import('#meshcache/polyfills.js');
    await Promise.all(LIBP2P.map((m) => import(m)));
    step('import libp2p and its services (as bare-node.ts)');
  }
}
const { Node } = await import('#meshcache/index.js');
step('import meshcache (dist/index.js)');
if (values.steps && networked) {
  await import('#meshcache/network/index.js');
  step('import the network part (dist/network/)');
}
const node = new Node({
  ...(networked ? { network: { id: String(values.network), listen: ['/ip4/127.0.0.1/tcp/0'] } } : {}),
  config: { cache: { enabled: true, backend: networked ? 'dht' : 'memory', ttl: 60 } },
});
node.addService({
  name: 'user',
  actions: {
    get_user: {
      cache: { enabled: true, ttl: 60, keys: ['id'] },
      handler: async (_ctx: unknown, p: { id: number }) => ({ id: p.id, name: `user ${p.id}` }),
    },
  },
});
step('new Node + a cached service');
const started = performance.now();
await node.start();
const startMs = performance.now() - started;
step(networked ? 'node.start() (libp2p loaded, network joined)' : 'node.start()');
await node.request('user/get_user', { id: 1 });
step('first miss (backend opened)');
for (let i = 0; i < Number(values.hits); i++) await node.request('user/get_user', { id: 1 });
if (values.steps) {
  // The clock worker boots on another thread: let it come up before the report.
  await sleep(300);
  const { clockSource } = await import('#meshcache/cache/backends/clock.js');
  step(`${values.hits} cached hits (clock: ${clockSource()})`);
}
if (values.metrics) {
  // Not loaded by a node unless metrics are read: what a node serving Prometheus scrapes adds.
  await node.cache.metrics();
  step('cache metrics exposition (prom-client loaded)');
}
send({
  type: 'ready',
  startMs,
  sinceProcessStartMs: performance.now(),
  hits: node.cache.stats().hits,
  memory: process.memoryUsage(),
});

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { id: number; cmd: string };
  if (cmd.cmd === 'info') send({ type: 'reply', id: cmd.id, ok: true, memory: process.memoryUsage() });
  else if (cmd.cmd === 'stop')
    void node.stop().finally(() => {
      send({ type: 'reply', id: cmd.id, ok: true });
      setImmediate(() => process.exit(0));
    });
});
