/**
 * How a network joins, from its slowest nodes: N meshcache nodes (built code,
 * K to a process) are started, then every 10 s the three with the fewest
 * members print their members, connections and membership counters
 * (introductions, failed introduction dials, `where` requests, discovery
 * lookups), until every node has every other or 140 s have passed.
 *
 *   npm run -s build:bench && npx tsx bench/scale/join-trace.ts [nodes=50] [perProcess=5]
 */
import '../../src/polyfills.js';
import { Fleet, killOnExit } from './fleet.js';
import { membersOf } from './members.js';
import { spawnMesh } from './run-size.js';
import { meshReport } from './window.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KEYS = [
  'member:introduced',
  'member:unreached',
  'rec:where',
  'discovery:lookup',
  'member:join',
  'bootstrap:dial',
];
const n = Number(process.argv[2] ?? 50);
const fleet = new Fleet();
const release = killOnExit(fleet);
const t0 = performance.now();
const perProcess = Number(process.argv[3] ?? 5);
const hosts = await spawnMesh(fleet, `trace-${process.pid}`, n, perProcess, 4, []);
const mesh = hosts.flatMap(membersOf);
console.log(`up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
for (let i = 0; i < 14; i++) {
  const reps = await Promise.all(mesh.map(async (m, idx) => ({ idx, r: await meshReport(m) })));
  reps.sort((a, b) => (a.r.members ?? 0) - (b.r.members ?? 0));
  const t = ((performance.now() - t0) / 1000).toFixed(0);
  for (const { idx, r } of reps.slice(0, 3)) {
    const c = KEYS.map((k) => `${k.split(':')[1]}=${(r.sent[k] ?? 0) + (r.received[k] ?? 0)}`).join(' ');
    const hb = r.received['rec:hb:posted'] ?? 0;
    console.log(`${t}s node${idx} members=${r.members} conns=${r.connections} hb-in=${hb} ${c}`);
  }
  if ((reps[0]?.r.members ?? 0) >= n - 1) break;
  await sleep(10_000);
}
await fleet.stop();
release();
process.exit(0);
