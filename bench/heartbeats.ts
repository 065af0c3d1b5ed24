/**
 * What the staleness bound costs a DHT node at idle: N node processes (built
 * code) with the default bound (1000 ms: heartbeats every 250 ms to every
 * member) beside the same N with no bound (`--max-staleness-ms 0`: no
 * heartbeats), one network after the other in the same run. Per node and
 * second: heartbeats sent and received, and CPU (% of one core, from
 * /proc/<pid>/stat).
 *
 *   npx tsx bench/heartbeats.ts          # N = 5 and 20 (BENCH_NODES=5,20)
 */
import '../src/polyfills.js';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type NodeProcess, startProcesses, stopProcesses, waitForMesh } from '../test/helpers/cluster.js';

const TICKS = 100; // USER_HZ on Linux
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 10_000);
/** Time after the mesh formed before the idle window (joins, lookups and catalogs settle). */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 3_000);

/** CPU seconds (user + system) a process used so far. */
function cpuSeconds(pid: number | undefined): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

interface Row {
  nodes: number;
  bound: string;
  sentPerSec: number;
  receivedPerSec: number;
  cpuPercent: number;
  inTouch: number;
  /** Fewest members a node had. */
  members: number;
}

async function counters(
  p: NodeProcess,
): Promise<{ sent: number; received: number; inTouch: boolean; members: number }> {
  const info = await p.call({ cmd: 'info' });
  const t = info.touch as { sent: number; received: number; inTouch: boolean };
  return { ...t, members: (info.peers as string[]).length };
}

async function measure(nodes: number, boundMs: number): Promise<Row> {
  const procs = await startProcesses(nodes, {
    network: `hb-${nodes}-${boundMs}`,
    backend: 'dht',
    built: true,
    args: ['--max-staleness-ms', String(boundMs)],
  });
  try {
    // A pair that has not met yet on a loaded machine does not stop the measure: the table says so.
    await waitForMesh(procs, nodes - 1).catch(() => {});
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const before = await Promise.all(procs.map(counters));
    const cpu0 = procs.map((p) => cpuSeconds(p.child.pid));
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = procs.map((p) => cpuSeconds(p.child.pid));
    const after = await Promise.all(procs.map(counters));
    const avg = (f: (i: number) => number) => procs.reduce((n, _, i) => n + f(i), 0) / procs.length;
    return {
      nodes,
      bound: boundMs === 0 ? 'none' : `${boundMs} ms`,
      sentPerSec: avg((i) => (after[i]!.sent - before[i]!.sent) / seconds),
      receivedPerSec: avg((i) => (after[i]!.received - before[i]!.received) / seconds),
      cpuPercent: avg((i) => ((cpu1[i]! - cpu0[i]!) / seconds) * 100),
      inTouch: after.filter((a) => a.inTouch).length,
      members: Math.min(...after.map((a) => a.members)),
    };
  } finally {
    await stopProcesses(procs);
  }
}

export async function benchHeartbeats(): Promise<string> {
  if (process.env.BENCH_NO_BUILD !== '1')
    execSync('npm run build:bench', { stdio: ['ignore', 'ignore', 'inherit'] });
  const sizes = (process.env.BENCH_NODES ?? '5,20').split(',').map(Number);
  const rows: Row[] = [];
  for (const n of sizes) {
    rows.push(await measure(n, 1000));
    rows.push(await measure(n, 0));
  }
  const lines = [
    `Idle ${IDLE_MS / 1000} s per network after ${SETTLE_MS / 1000} s to settle, averages per node; load before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    '',
    '| nodes | bound | heartbeats sent/s | received/s | CPU % of a core | in touch | fewest members |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.nodes} | ${r.bound} | ${r.sentPerSec.toFixed(1)} | ${r.receivedPerSec.toFixed(1)} | ${r.cpuPercent.toFixed(2)} | ${r.inTouch}/${r.nodes} | ${r.members} |`,
    ),
  ];
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await benchHeartbeats());
