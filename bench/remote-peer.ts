/**
 * One process of the remote-call benchmark (bench/remote-calls.ts): a server
 * hosting `bench/echo` (uncached) and `bench/cached` (cached 60 s by id), or a
 * client that measures calls to them, on meshcache or on Moleculer 0.14 with
 * its TCP transporter (static addresses, no UDP discovery, no broker server).
 *
 *   tsx bench/remote-peer.ts --fw meshcache|moleculer --role server|client [--port P] [--peer ADDR]
 *
 * A server prints `{"ready":...,"address":...}`; a client prints one JSON line of results.
 */
import { parseArgs } from 'node:util';
// The built package, as a user runs it (tsx would wrap every function of src/ in a naming helper).
import { Node, type RequestContext } from 'meshcache';
import { pino } from 'pino';

const { values } = parseArgs({
  options: {
    fw: { type: 'string', default: 'meshcache' },
    role: { type: 'string', default: 'server' },
    port: { type: 'string', default: '0' },
    peer: { type: 'string', default: '' },
    ms: { type: 'string', default: '2000' },
    /** A Redis URL both meshcache nodes cache in (the caller then answers the cached action from its near tier). */
    redis: { type: 'string' },
  },
});
const MEASURE_MS = Number(values.ms);
const payload = { id: 1, name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'dev'] };

interface Calls {
  echo(i: number): Promise<unknown>;
  cached(i: number): Promise<unknown>;
  /** The transport's own round trip (no service framework), when there is one. */
  floor?(): Promise<unknown>;
  /** What the caller's cache did (near hits), when there is one. */
  info?(): unknown;
  stop(): Promise<void>;
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

/** Calls per second and p50 latency (µs) with `inFlight` calls pending, for MEASURE_MS. */
async function rate(
  op: (i: number) => Promise<unknown>,
  inFlight: number,
): Promise<{ perSec: number; p50us: number }> {
  for (let i = 0; i < 300; i++) await op(i % 100); // warm-up
  const lat: number[] = [];
  let done = 0;
  const end = performance.now() + MEASURE_MS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await op(done % 100);
        lat.push((performance.now() - t) * 1000);
        done++;
      }
    }),
  );
  return { perSec: (done / (performance.now() - start)) * 1000, p50us: pct(lat, 0.5) };
}

async function meshcache(): Promise<Calls | undefined> {
  const node = new Node({
    env: {},
    logger: pino({ level: 'silent' }),
    ...(values.redis === undefined
      ? {}
      : { config: { cache: { backend: 'redis', redis: { url: values.redis } } } }),
    network: {
      id: 'bench-remote',
      listen: [`/ip4/127.0.0.1/tcp/${values.port}`],
      bootstrap: values.peer ? [values.peer] : [],
    },
  });
  if (values.role === 'server') {
    node.addService({
      name: 'bench',
      actions: {
        echo: (_ctx: RequestContext, p: { id: number }) => ({ ...payload, id: p.id }),
        cached: {
          cache: { ttl: 60, keys: ['id'] },
          handler: (_ctx: RequestContext, p: { id: number }) => ({ ...payload, id: p.id }),
        },
      },
    });
  }
  await node.start();
  if (values.role === 'server') {
    console.log(JSON.stringify({ ready: true, address: node.network?.addresses()[0] }));
    return undefined;
  }
  const net = node.network!;
  while (net.catalogs.hostsOf('bench').length === 0) await new Promise((r) => setTimeout(r, 50));
  const server = net.catalogs.hostsOf('bench')[0] as string;
  // With a shared backend the caller installs its own route for the cached action (near copies).
  if (values.redis !== undefined)
    for (let i = 0; i < 100 && node.cache.stats().services.bench?.actions.cached === undefined; i++)
      await new Promise((r) => setTimeout(r, 50));
  return {
    echo: (i) => node.request('bench/echo', { id: i }),
    cached: (i) => node.request('bench/cached', { id: i }),
    floor: () => net.direct.request(server, { t: 'get', k: 'none' }, AbortSignal.timeout(5_000)),
    info: () => ({
      near: node.cache.stats().near,
      cached: node.cache.stats().services.bench?.actions.cached,
    }),
    stop: () => node.stop(),
  };
}

async function moleculer(): Promise<Calls | undefined> {
  const { ServiceBroker } = await import('moleculer');
  const nodeID = values.role;
  const port = Number(values.port);
  const broker = new ServiceBroker({
    nodeID,
    logger: false,
    cacher: values.role === 'server' ? 'Memory' : undefined,
    transporter: {
      type: 'TCP',
      options: { udpDiscovery: false, port, urls: values.peer ? [values.peer] : [] },
    },
  });
  if (values.role === 'server') {
    broker.createService({
      name: 'bench',
      actions: {
        echo: (ctx: { params: { id: number } }) => ({ ...payload, id: ctx.params.id }),
        cached: {
          cache: { keys: ['id'], ttl: 60 },
          handler: (ctx: { params: { id: number } }) => ({ ...payload, id: ctx.params.id }),
        },
      },
    });
  }
  await broker.start();
  if (values.role === 'server') {
    console.log(JSON.stringify({ ready: true, address: `127.0.0.1:${port}/server` }));
    return undefined;
  }
  await broker.waitForServices('bench', 30_000);
  return {
    echo: (i) => broker.call('bench.echo', { id: i }),
    cached: (i) => broker.call('bench.cached', { id: i }),
    stop: () => broker.stop(),
  };
}

// A server ends on SIGTERM through exit, so `--cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));
const calls = values.fw === 'moleculer' ? await moleculer() : await meshcache();
if (calls !== undefined) {
  const out: Record<string, unknown> = {
    sequential: await rate(calls.echo, 1),
    inFlight100: await rate(calls.echo, 100),
    cachedSequential: await rate(calls.cached, 1),
    ...(calls.floor === undefined ? {} : { floor: await rate(calls.floor, 1) }),
  };
  if (calls.info !== undefined) out.info = calls.info();
  console.log(JSON.stringify(out));
  await calls.stop();
  process.exit(0);
}
