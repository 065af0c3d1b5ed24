/**
 * The one-hop DHT read before/after one change, in one process, interleaved:
 * for each of two built copies of meshcache (`dist/` folders), three networked
 * nodes on 127.0.0.1 (replication 1) whose keys are held by another node than
 * the reader, so every read is one request to that node; then, round by round,
 * alternating which build goes first, the same reads on both:
 *
 * - the DHT backend's `get` (what a cache miss of the near tier costs), and
 * - `network.dht.directGet` (the one-hop request alone, no backend).
 *
 * Every node of both builds lives in this process, so the CPU time per read
 * counts both ends (reader and holder: framing, encryption, yamux, parsing);
 * the wall-time p50 is the latency one read sees.
 *
 *   npx tsx bench/onehop-before-after.ts <before-dist> <after-dist>
 *
 * (BENCH_ROUNDS rounds, BENCH_OPS sequential reads per case and round;
 * BENCH_INFLIGHT reads in flight for the concurrent case.)
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';

const [beforeDir, afterDir] = process.argv.slice(2).map((d) => resolve(d));
if (beforeDir === undefined || afterDir === undefined) {
  console.error('usage: bench/onehop-before-after.ts <before-dist> <after-dist>');
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
const OPS = Number(process.env.BENCH_OPS ?? 400);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 100);
const KEYS = 20;
const silent = pino({ level: 'silent' });

/** The parts of a MeshNetwork this bench uses (both builds have them). */
interface Net {
  start(): Promise<void>;
  stop(): Promise<void>;
  addresses(): string[];
  peers(): string[];
  readonly peerId: string;
  readonly networkId: string;
  holdersOf(key: string, n: number, settleMs?: number): string[] | undefined;
  readonly dht: {
    routingTableSize: number;
    directGet(peerId: string, key: string, signal: AbortSignal): Promise<unknown>;
  };
}
type NetClass = new (options: Record<string, unknown>, logger: unknown) => Net;
interface Backend {
  open(ctx: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttl: number): Promise<void>;
}
type BackendClass = new (options: Record<string, unknown>) => Backend;

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sideOf(dir: string, tag: string) {
  const url = (p: string) => pathToFileURL(`${dir}/${p}`).href;
  await import(url('polyfills.js'));
  const { MeshNetwork } = (await import(url('network/index.js'))) as { MeshNetwork: NetClass };
  const { DhtBackend } = (await import(url('cache/backends/dht/index.js'))) as { DhtBackend: BackendClass };
  const id = `oh-${tag}`;
  const first = new MeshNetwork({ id }, silent);
  await first.start();
  const rest = [new MeshNetwork({ id, bootstrap: first.addresses() }, silent)];
  rest.push(new MeshNetwork({ id, bootstrap: first.addresses() }, silent));
  await Promise.all(rest.map((n) => n.start()));
  const nets = [first, ...rest];
  await until(
    () =>
      nets.every((n) => n.peers().length >= 2 && (n.dht.routingTableSize < 0 || n.dht.routingTableSize >= 2)),
    30_000,
    `${tag}: 3 members`,
  );
  const [a, b] = nets as [Net, Net];
  const backend = new DhtBackend({ replication: 1, oneHop: { settleMs: 0 } });
  await backend.open({ networkId: a.networkId, logger: silent, network: a });
  const value = { id: 1, name: 'x'.repeat(100) };
  const keys: string[] = [];
  for (let i = 0; keys.length < KEYS; i++) {
    const k = `cache:user/get_user:${i}`;
    if (a.holdersOf(k, 1)?.[0] === b.peerId) keys.push(k);
  }
  for (const k of keys) await backend.set(k, value, 3600);
  // Check: every key is read back through one hop.
  for (const k of keys) {
    const got = await backend.get(k);
    if (got === undefined) throw new Error(`${tag}: ${k} not read back`);
  }
  return { nets, a, b, backend, keys };
}

const load0 = loadavg().map((l) => l.toFixed(1));
const sides = {
  before: await sideOf(beforeDir, 'b'),
  after: await sideOf(afterDir, 'a'),
};
type Side = (typeof sides)['before'];
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const sig = () => AbortSignal.timeout(5_000);

type CaseFn = (s: Side, i: number) => Promise<unknown>;
const cases: Record<string, { fn: CaseFn; inFlight: boolean }> = {
  'backend.get one hop, sequential': { fn: (s, i) => s.backend.get(s.keys[i % KEYS]!), inFlight: false },
  'network.dht.directGet, sequential': {
    fn: (s, i) => s.a.dht.directGet(s.b.peerId, s.keys[i % KEYS]!, sig()),
    inFlight: false,
  },
  [`backend.get one hop, ${INFLIGHT} in flight`]: {
    fn: (s, i) => s.backend.get(s.keys[i % KEYS]!),
    inFlight: true,
  },
};

/** One slice: OPS reads; per-read wall ms (sequential) and CPU µs per read. */
async function slice(
  s: Side,
  fn: CaseFn,
  inFlight: boolean,
): Promise<{ wall: number[]; cpu: number; perSec: number }> {
  const wall: number[] = [];
  const c0 = cpuUs();
  const t0 = performance.now();
  if (inFlight) {
    let next = 0;
    const worker = async () => {
      while (next < OPS * 5) await fn(s, next++);
    };
    await Promise.all(Array.from({ length: INFLIGHT }, worker));
    const ms = performance.now() - t0;
    return { wall, cpu: (cpuUs() - c0) / (OPS * 5), perSec: (OPS * 5 * 1000) / ms };
  }
  for (let i = 0; i < OPS; i++) {
    const t = performance.now();
    await fn(s, i);
    wall.push(performance.now() - t);
  }
  const ms = performance.now() - t0;
  return { wall, cpu: (cpuUs() - c0) / OPS, perSec: (OPS * 1000) / ms };
}

// Warm-up.
for (const { fn, inFlight } of Object.values(cases))
  for (const s of Object.values(sides)) await slice(s, fn, inFlight);

const samples: Record<string, { wall: number[]; cpu: number[]; perSec: number[] }> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, { fn, inFlight }] of Object.entries(cases)) {
    const order = r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const side of order) {
      const got = await slice(sides[side], fn, inFlight);
      const k = `${name} | ${side}`;
      samples[k] ??= { wall: [], cpu: [], perSec: [] };
      samples[k].wall.push(...got.wall);
      samples[k].cpu.push(got.cpu);
      samples[k].perSec.push(got.perSec);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], q: number) =>
  [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const d = (b: number, a: number) => `${(((a - b) / b) * 100).toFixed(1)}%`;
const out = [
  `load average before ${load0.join(' / ')}, after ${loadavg()
    .map((l) => l.toFixed(1))
    .join(
      ' / ',
    )}; ${ROUNDS} rounds of ${OPS} sequential reads (${OPS * 5} with ${INFLIGHT} in flight) per case and side, alternating`,
  '',
  '| one-hop read (3 nodes, replication 1) | before | after | after vs before |',
  '|---|---:|---:|---:|',
];
for (const name of Object.keys(cases)) {
  const b = samples[`${name} | before`]!;
  const a = samples[`${name} | after`]!;
  const [cb, ca] = [median(b.cpu), median(a.cpu)];
  out.push(`| ${name}: CPU µs/read (both ends) | ${cb.toFixed(1)} | ${ca.toFixed(1)} | ${d(cb, ca)} |`);
  if (b.wall.length > 0) {
    const [pb, pa] = [pct(b.wall, 0.5) * 1000, pct(a.wall, 0.5) * 1000];
    const [qb, qa] = [pct(b.wall, 0.99) * 1000, pct(a.wall, 0.99) * 1000];
    out.push(`| ${name}: wall p50 µs | ${pb.toFixed(0)} | ${pa.toFixed(0)} | ${d(pb, pa)} |`);
    out.push(`| ${name}: wall p99 µs | ${qb.toFixed(0)} | ${qa.toFixed(0)} | ${d(qb, qa)} |`);
  } else {
    const [rb, ra] = [median(b.perSec), median(a.perSec)];
    out.push(
      `| ${name}: reads/s (wall, median of rounds) | ${rb.toFixed(0)} | ${ra.toFixed(0)} | ${d(rb, ra)} |`,
    );
  }
}
console.log(out.join('\n'));
for (const s of Object.values(sides)) {
  await s.backend.close();
  await Promise.allSettled(s.nets.map((n) => n.stop()));
}
process.exit(0);
