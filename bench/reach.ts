/**
 * Invalidation reach at N node processes, each network alone on the machine:
 * first N meshcache nodes (built code), `revoke` on one node until
 * every node applied it; then, with those stopped, N bare libp2p nodes with
 * the same services (bench/bare-node.ts), a gossipsub publish until every
 * node got it. bench/dht.ts runs both networks at once (40 processes at
 * N = 20), which measures the machine more than either network.
 *
 *   BENCH_NODES=20 npx tsx bench/reach.ts
 */
import '../src/polyfills.js';
import { execSync } from 'node:child_process';
import { loadavg } from 'node:os';
import {
  BARE_NODE_SCRIPT,
  type NodeProcess,
  startProcesses,
  stopProcesses,
  waitForMesh,
} from '../test/helpers/cluster.js';
import { machine } from './harness.js';

const n = Number(process.env.BENCH_NODES ?? 20);
const ROUNDS = Number(process.env.REACH_ROUNDS ?? 30);
const pct = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor(q * xs.length)] ?? Number.NaN;
const f = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

interface Series {
  slowest: number[];
  any: number[];
  missed: number;
}

async function rounds(
  procs: NodeProcess[],
  round: (r: number, origin: NodeProcess) => Promise<number[]>,
): Promise<Series> {
  const s: Series = { slowest: [], any: [], missed: 0 };
  for (let r = 0; r < ROUNDS + 3; r++) {
    const reach = await round(r, procs[(r * 7 + 1) % procs.length] as NodeProcess);
    if (r < 3) continue; // warm-up
    const missed = reach.filter((x) => Number.isNaN(x)).length;
    s.missed += missed;
    if (missed > 0) continue;
    s.slowest.push(Math.max(...reach));
    s.any.push(...reach);
  }
  return s;
}

const rows: string[] = [];
const notes: string[] = [`load before: ${load()}`];
const row = (name: string, s: Series) =>
  rows.push(
    `| ${name} | ${f(pct(s.slowest, 0.5))} | ${f(pct(s.slowest, 0.99))} | ${f(pct(s.any, 0.5))} | ${f(pct(s.any, 0.99))} | ${s.slowest.length} rounds, ${s.missed} node(s) not reached in 10 s |`,
  );

if (process.env.BENCH_NO_BUILD !== '1') execSync('npm run build:bench', { stdio: 'ignore' });
const mesh = await startProcesses(n, { network: `reach-${n}`, near: false, built: true, concurrency: 4 });
try {
  await waitForMesh(mesh, n - 1, 120_000).catch(() => notes.push('meshcache: not fully meshed in 120 s'));
  await new Promise((r) => setTimeout(r, 3_000));
  notes.push(`meshcache network up, load ${load()}`);
  const control = process.env.REACH_CONTROL;
  if (control !== undefined)
    await Promise.all(mesh.map((p) => p.call({ cmd: 'control-mode', mode: control })));
  const s = await rounds(mesh, async (r, origin) => {
    const key = `cache:bench/reach/k:${r}`;
    const watches = await Promise.all(mesh.map((p) => p.watch({ key }, 10_000)));
    const reply = await origin.call({
      cmd: 'dht',
      op: 'revoke',
      prefix: 'cache:bench/reach/',
      pattern: `k:${r}`,
    });
    const at = Number(reply.at);
    const applied = await Promise.all(watches.map((w) => w.applied.catch(() => Number.NaN)));
    return applied.filter((_, i) => mesh[i] !== origin).map((t) => t - at);
  });
  row(
    `meshcache \`revoke\`, ${n} node processes (${control === 'fallback' ? 'direct sends; gossip only as fallback' : 'direct sends and gossip'})`,
    s,
  );
  notes.push(`meshcache rounds done, load ${load()}`);
} finally {
  await stopProcesses(mesh);
}
// BENCH_BARE=0: the meshcache network alone (comparing its own modes).
if (process.env.BENCH_BARE !== '0') {
  const bare = await startProcesses(n, {
    network: `bare-reach-${n}`,
    script: BARE_NODE_SCRIPT,
    concurrency: 4,
  });
  try {
    await waitForMesh(bare, n - 1, 120_000).catch(() => notes.push('bare: not fully meshed in 120 s'));
    await new Promise((r) => setTimeout(r, 3_000));
    notes.push(`bare network up, load ${load()}`);
    const s = await rounds(bare, async (r, origin) => {
      const key = `b${r}`;
      const others = bare.filter((p) => p !== origin);
      const ws = await Promise.all(others.map((p) => p.watch({ key }, 10_000)));
      const sent = Number((await origin.call({ cmd: 'publish', key })).at);
      return (await Promise.all(ws.map((w) => w.applied.catch(() => Number.NaN)))).map((t) => t - sent);
    });
    row(`bare libp2p gossipsub publish, ${n} processes (same services, nothing of meshcache)`, s);
    notes.push(`bare rounds done, load ${load()}`);
  } finally {
    await stopProcesses(bare);
  }
}
console.log(
  [
    `Machine: ${machine()}. Command: \`BENCH_NODES=${n} npx tsx bench/reach.ts\` (${new Date().toISOString().slice(0, 10)}).`,
    '',
    '| network | slowest p50 ms | slowest p99 ms | any node p50 ms | any node p99 ms | samples |',
    '|---|---:|---:|---:|---:|---|',
    ...rows,
    '',
    ...notes.map((x) => `- ${x}`),
  ].join('\n'),
);
