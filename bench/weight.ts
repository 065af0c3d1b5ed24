/**
 * Node weight: RSS, heap and start-up of one node process alone, on
 * the built code (dist/ through dist-bench/, built first; BENCH_NO_BUILD=1
 * skips it), N times each kind, interleaved:
 *
 * - a meshcache node without a network (memory backend) and with one (DHT
 *   backend), bench/weight-node.ts, after `BENCH_WEIGHT_HITS` cached hits;
 * - a bare libp2p node with the same services (bench/bare-node.ts);
 * - a bare `node -e` process, the floor.
 *
 * Then where a meshcache node's memory goes: weight-node.ts `--steps`, each
 * part loaded one after the other, `process.memoryUsage()` after a forced GC.
 *
 *   npm run bench -- weight
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WEIGHT_NODE = `${ROOT}dist-bench/bench/weight-node.js`;
const BARE_NODE = `${ROOT}dist-bench/bench/bare-node.js`;
const RUNS = Number(process.env.BENCH_WEIGHT_RUNS ?? 3);
const HITS = process.env.BENCH_WEIGHT_HITS ?? '1000';
/** After ready: the node's timers run once and a first GC happens, as in a node that just started. */
const SETTLE_MS = Number(process.env.BENCH_WEIGHT_SETTLE_MS ?? 1000);

// The floor: the same line protocol as the node scripts, nothing loaded.
const FLOOR = `const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
send({ type: 'ready', startMs: 0, memory: process.memoryUsage() });
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const c = JSON.parse(l);
  send({ type: 'reply', id: c.id, ok: true, memory: process.memoryUsage() });
  if (c.cmd === 'stop') process.exit(0);
});`;

type Msg = Record<string, unknown> & { type: string };
type Memory = NodeJS.MemoryUsage & { anon: number };

/** A child speaking JSON lines: `ready`, optional `step`s, then a reply per command. */
class Child {
  readonly messages: Msg[] = [];
  private waiter: ((m: Msg) => void) | undefined;
  private readonly exited: Promise<void>;

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    let buffer = '';
    proc.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const msg = JSON.parse(buffer.slice(0, nl)) as Msg;
        buffer = buffer.slice(nl + 1);
        this.messages.push(msg);
        this.waiter?.(msg);
      }
    });
    proc.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  /** The next message of `type` (already received or to come); rejects after `ms`. */
  next(type: string, ms = 60_000): Promise<Msg> {
    const had = this.messages.find((m) => m.type === type);
    if (had !== undefined) return Promise.resolve(had);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} from the child in ${ms} ms`)), ms);
      this.waiter = (m) => {
        if (m.type !== type) return;
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(m);
      };
    });
  }

  /** Memory as the child reports it, plus its private resident memory (RssAnon, Linux). */
  async memory(): Promise<Memory> {
    this.messages.length = 0;
    this.proc.stdin.write(`${JSON.stringify({ id: 1, cmd: 'info' })}\n`);
    const reply = await this.next('reply');
    return { ...(reply.memory as NodeJS.MemoryUsage), anon: rssAnon(this.proc.pid) };
  }

  async stop(): Promise<void> {
    this.proc.stdin.write(`${JSON.stringify({ id: 2, cmd: 'stop' })}\n`);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

function rssAnon(pid: number | undefined): number {
  try {
    const kb = /RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) * 1024;
  } catch {
    return Number.NaN;
  }
}

const KINDS: Array<[string, string[]]> = [
  ['meshcache node, no network (memory backend)', [WEIGHT_NODE, '--network', 'none', '--hits', HITS]],
  // Hits fast enough to start the expiry clock's worker (clock.ts): what a busy node carries.
  [
    'meshcache node, no network, 100,000 hits (clock worker started)',
    [WEIGHT_NODE, '--network', 'none', '--hits', '100000'],
  ],
  [
    'meshcache node, network joined alone (DHT backend)',
    [WEIGHT_NODE, '--network', 'weight', '--hits', HITS],
  ],
  ['bare libp2p node, same services', [BARE_NODE]],
  ['`node -e` (floor)', ['-e', FLOOR]],
];

// BENCH_WEIGHT_COMPARE=<another tree with dist-bench/ built>: its meshcache rows too, interleaved (before/after).
const OTHER = process.env.BENCH_WEIGHT_COMPARE;
if (OTHER !== undefined) {
  const other = `${OTHER.replace(/\/$/, '')}/dist-bench/bench/weight-node.js`;
  KINDS.unshift(
    ['compared tree: no network', [other, '--network', 'none', '--hits', HITS]],
    ['compared tree: network joined alone', [other, '--network', 'weight', '--hits', HITS]],
  );
}

interface Sample {
  spawnMs: number;
  startMs: number;
  memory: Memory;
}

async function sample(args: string[]): Promise<Sample> {
  const t = performance.now();
  const child = new Child(spawn(process.execPath, args, { env: { ...process.env, LOG_LEVEL: 'warn' } }));
  try {
    const ready = await child.next('ready');
    const spawnMs = performance.now() - t;
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    return { spawnMs, startMs: Number(ready.startMs), memory: await child.memory() };
  } finally {
    await child.stop();
  }
}

interface Step {
  name: string;
  /** Since the script began (GCs of the earlier steps included). */
  ms: number;
  memory: Memory;
}

/** The steps of one weight-node run (`--steps`, forced GC before each report). */
async function steps(network: string): Promise<Step[]> {
  const args = ['--expose-gc', WEIGHT_NODE, '--network', network, '--hits', HITS, '--steps', '--metrics'];
  const child = new Child(spawn(process.execPath, args, { env: { ...process.env, LOG_LEVEL: 'warn' } }));
  try {
    await child.next('ready');
    return child.messages
      .filter((m) => m.type === 'step')
      .map((m) => ({ name: String(m.name), ms: Number(m.ms), memory: m.memory as Memory }));
  } finally {
    await child.stop();
  }
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const ms = (v: number) => (v === 0 ? '-' : v < 10 ? v.toFixed(1) : v.toFixed(0));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

export async function benchWeight(): Promise<string> {
  if (process.env.BENCH_NO_BUILD !== '1')
    execFileSync('npm', ['run', '-s', 'build:bench'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const before = load();
  const samples = new Map<string, Sample[]>(KINDS.map(([name]) => [name, []]));
  for (let r = 0; r < RUNS; r++)
    for (const [name, args] of KINDS) samples.get(name)?.push(await sample(args));
  const out = [
    `### One process alone (median of ${RUNS}, interleaved; ${HITS} cached hits before ready, memory ${SETTLE_MS} ms after)`,
    '',
    '| process | RSS MiB | private (RssAnon) MiB | heap used MiB | external MiB | arrayBuffers MiB | spawn to ready ms | node.start() ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [name, s] of samples) {
    const m = (f: (x: Memory) => number) => mib(med(s.map((x) => f(x.memory))));
    out.push(
      `| ${name} | ${m((x) => x.rss)} | ${m((x) => x.anon)} | ${m((x) => x.heapUsed)} | ${m((x) => x.external)} | ${m((x) => x.arrayBuffers)} | ${ms(med(s.map((x) => x.spawnMs)))} | ${ms(med(s.map((x) => x.startMs)))} |`,
    );
  }
  for (const [label, network] of [
    ['no network', 'none'],
    ['network joined', 'weight'],
  ] as const) {
    const runs: Step[][] = [];
    for (let r = 0; r < RUNS; r++) runs.push(await steps(network));
    out.push(
      '',
      `### Where it goes, ${label} (each part loaded in turn, GC before each report; median of ${RUNS} deltas)`,
      '',
      '| step | Δ RSS MiB | Δ private MiB | Δ heap used MiB | Δ external MiB | RSS after MiB | Δ ms |',
      '|---|---:|---:|---:|---:|---:|---:|',
    );
    const first = runs[0] ?? [];
    first.forEach((st, i) => {
      const d = (f: (x: Memory) => number) =>
        mib(med(runs.map((run) => (i === 0 ? 0 : f(run[i]!.memory) - f(run[i - 1]!.memory)))));
      const rss = mib(med(runs.map((run) => run[i]!.memory.rss)));
      const dt = med(runs.map((run) => run[i]!.ms - (i === 0 ? 0 : run[i - 1]!.ms)));
      out.push(
        `| ${st.name} | ${d((x) => x.rss)} | ${d((x) => x.anon)} | ${d((x) => x.heapUsed)} | ${d((x) => x.external)} | ${rss} | ${ms(dt)} |`,
      );
    });
  }
  out.push('', `Load average (1/5/15 min) before: ${before}; after: ${load()}.`);
  return out.join('\n');
}
