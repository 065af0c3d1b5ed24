/**
 * The idle cost of a node, alone: N meshcache nodes (built code) and N bare
 * libp2p nodes in one run, each network joined, left quiet for a while, then
 * both measured over the same window (CPU, RSS, connections, messages per
 * second by kind). Quicker than the full scale benchmark, for trying a change
 * to what an idle node does. Flags after `--` go to every meshcache node.
 *
 *   npx tsx bench/scale/idle.ts [nodes=20] [-- node flags...]
 *
 * Env: BENCH_IDLE_SETTLE_MS (45000), BENCH_IDLE_MS (30000), BENCH_SCALE_BARE (1),
 * BENCH_SCALE_PER_PROCESS (1: a process per node), BENCH_NO_BUILD=1.
 */
import '../../src/polyfills.js';
import { Fleet, killOnExit } from './fleet.js';
import { type Member, membersOf } from './members.js';
import { buildForBench, perProcessOf } from './options.js';
import { uptime } from './procfs.js';
import { barePeers, meshMembers, spawnBare, spawnMesh, waitForAll } from './run-size.js';
import { bareReport, measureWindow, meshReport, type WindowStats } from './window.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (at most 2 min) until every node counts `want` others; says how far they got. */
async function joined(nodes: Member[], count: (m: Member) => Promise<number>, want: number) {
  const { counts } = await waitForAll(nodes, count, want, 120_000, (c, ms) =>
    console.error(`  ${c.min}..${c.max} of ${want} after ${(ms / 1000).toFixed(0)} s`),
  );
  return `${counts.min}..${counts.max} of ${want}`;
}

function row(label: string, w: WindowStats): string {
  const kinds = Object.entries(w.perKind)
    .filter(([, v]) => v >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  return `| ${label} | ${w.cpu.mean.toFixed(2)}% (${w.cpu.min.toFixed(2)}–${w.cpu.max.toFixed(2)}) | ${w.rssMiB.mean.toFixed(0)} MiB | ${w.connections.mean.toFixed(1)} | ${kinds || '–'} |`;
}

async function main(): Promise<void> {
  const sep = process.argv.indexOf('--');
  const positional = process.argv.slice(2, sep === -1 ? undefined : sep);
  const n = Number(positional[0] ?? 20);
  const nodeArgs = sep === -1 ? [] : process.argv.slice(sep + 1);
  const settleMs = Number(process.env.BENCH_IDLE_SETTLE_MS ?? 45_000);
  const windowMs = Number(process.env.BENCH_IDLE_MS ?? 30_000);
  const withBare = process.env.BENCH_SCALE_BARE !== '0';
  const perProcess = perProcessOf(process.env.BENCH_SCALE_PER_PROCESS ?? '1')(n);
  if (process.env.BENCH_NO_BUILD !== '1') buildForBench();
  const fleet = new Fleet();
  const release = killOnExit(fleet);
  const network = `idle-${process.pid}`;
  try {
    const hosts = await spawnMesh(fleet, network, n, perProcess, 4, nodeArgs);
    const mesh = hosts.flatMap(membersOf);
    const members = await joined(mesh, meshMembers, n - 1);
    let bare: Member[] = [];
    let bareJoined = '';
    if (withBare) {
      bare = (await spawnBare(fleet, network, n, perProcess, 4)).flatMap(membersOf);
      bareJoined = await joined(bare, barePeers, n - 1);
    }
    await sleep(settleMs);
    const [idle, bareIdle] = await Promise.all([
      measureWindow(mesh, meshReport, windowMs),
      withBare ? measureWindow(bare, bareReport, windowMs) : Promise.resolve(undefined),
    ]);
    console.log(
      `# idle, ${n} nodes in ${hosts.length} processes${nodeArgs.length ? ` (${nodeArgs.join(' ')})` : ''}: settle ${settleMs / 1000} s, window ${windowMs / 1000} s; members ${members}${withBare ? `, bare peers ${bareJoined}` : ''}; ${uptime()}`,
    );
    console.log(
      '\n| network | CPU per node, % of a core (min–max) | RSS per node | connections | messages/s per node |',
    );
    console.log('|---|---:|---:|---:|---|');
    console.log(row('meshcache', idle));
    if (bareIdle) console.log(row('bare libp2p', bareIdle));
  } finally {
    await fleet.stop();
    fleet.killAll();
    release();
  }
}

await main();
