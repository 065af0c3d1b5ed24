/**
 * Propagation over the P2P bus between node processes: 2 and 5
 * meshcache node processes (examples/dht-node.ts, built code) on 127.0.0.1,
 * memory backend, one network. Each round every node caches `user/get_user`
 * for a new id; one node runs `user/cache/delete`; a sample is the time from
 * the start of that request to the moment the notice was applied on a node
 * (the near bus applies it before the watching listener runs). Then every node
 * is asked again and must run the handler (no stale serve).
 *
 *   npx tsx bench/bus-processes.ts        (or npm run bench -- bus)
 */
import '../src/polyfills.js';
import { execSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { startProcesses, stopProcesses, waitForMesh } from '../test/helpers/cluster.js';
import { machine } from './harness.js';

const ROUNDS = Number(process.env.BUS_ROUNDS ?? 100);
const sizes = (process.env.BUS_NODES ?? '2,5').split(',').map(Number);

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}
const f = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

async function runSize(n: number): Promise<{ row: string; notes: string[] }> {
  const notes = [`${n} nodes, load before ${load()}`];
  const procs = await startProcesses(n, {
    network: `bus-${n}`,
    backend: 'memory',
    concurrency: 4,
    built: true,
  });
  try {
    await waitForMesh(procs, n - 1, 60_000);
    // Gossip subscriptions take a heartbeat or two after the connections.
    for (let t = 0; t < 40; t++) {
      const infos = await Promise.all(procs.map((p) => p.call({ cmd: 'info' })));
      if (infos.every((i) => (i.gossipPeers as string[]).length >= n - 1)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const slowest: number[] = [];
    const every: number[] = [];
    let stale = 0;
    for (let r = 0; r < ROUNDS + 10; r++) {
      const id = 50_000 + r;
      const key = `get_user:${id}`;
      await Promise.all(procs.map((p) => p.call({ cmd: 'request', path: 'user/get_user', params: { id } })));
      const origin = procs[r % n]!;
      const others = procs.filter((p) => p !== origin);
      const watches = await Promise.all(others.map((p) => p.watch({ key }, 10_000, 'watchNotice')));
      const reply = await origin.call({ cmd: 'request', path: 'user/cache/delete', params: { key } });
      const started = Number(reply.startedAt);
      const applied = await Promise.all(watches.map((w) => w.applied));
      const again = await Promise.all(
        others.map((p) => p.call({ cmd: 'request', path: 'user/get_user', params: { id } })),
      );
      stale += again.filter((a) => a.ran !== 1).length;
      if (r < 10) continue; // warm-up rounds
      const reach = applied.map((t) => t - started);
      slowest.push(Math.max(...reach));
      every.push(...reach);
    }
    notes.push(`${n} nodes: ${stale} stale serves after the notice (must be 0); load after ${load()}`);
    const row = [
      `| P2P bus, memory backend, \`cache/delete\`: slowest of ${n - 1} | ${n} processes | ${slowest.length} | ${f(pct(slowest, 0.5))} | ${f(pct(slowest, 0.99))} | ${f(Math.max(...slowest))} |`,
      `| P2P bus, memory backend, \`cache/delete\`: any node | ${n} processes | ${every.length} | ${f(pct(every, 0.5))} | ${f(pct(every, 0.99))} | ${f(Math.max(...every))} |`,
    ].join('\n');
    return { row, notes };
  } finally {
    await stopProcesses(procs);
  }
}

export async function benchBusProcesses(): Promise<string> {
  const rows: string[] = [];
  const notes: string[] = [];
  for (const n of sizes) {
    const r = await runSize(n);
    rows.push(r.row);
    notes.push(...r.notes);
  }
  return [
    `Machine: ${machine()}. Command: \`npm run bench -- bus\` (${new Date().toISOString().slice(0, 10)}).`,
    '',
    '| path | nodes | samples | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    ...notes.map((x) => `- ${x}`),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.env.BENCH_NO_BUILD !== '1') execSync('npm run build:bench', { stdio: 'inherit' });
  console.log(await benchBusProcesses());
}
