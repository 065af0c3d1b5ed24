/**
 * How a network joins, from its slowest nodes: N meshcache nodes (built code,
 * K to a process) are started, then every 10 s the three with the fewest
 * members print their members, connections and membership counters
 * (introductions, failed introduction dials, `where` requests, discovery
 * lookups), until every node has every other or 140 s have passed.
 *
 *   npm run -s build:bench && npx tsx bench/scale/join-trace.ts [nodes=50] [perProcess=5]
 *
 * With TRACE_LOG=debug the nodes log at debug, and each slow node's line is
 * followed by its latest failed bootstrap and introduction dials. With
 * TRACE_PROFILE=<seconds>, the process of the first bootstrap peer is profiled
 * that long once all are up, and where its CPU went is printed.
 */
import '../../src/polyfills.js';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, killOnExit } from './fleet.js';
import { membersOf } from './members.js';
import { type Profile, topFrames } from './profile-frames.js';
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
const logLevel = process.env.TRACE_LOG;
const hosts = await spawnMesh(
  fleet,
  `trace-${process.pid}`,
  n,
  perProcess,
  4,
  logLevel === undefined ? [] : ['--log-level', logLevel],
);
const placed = hosts.flatMap((h) => membersOf(h).map((m) => ({ m, h })));
const mesh = placed.map((p) => p.m);
/** The latest log lines of `name` about dials that failed. */
const failedDials = (idx: number): string[] => {
  const p = placed[idx];
  if (p === undefined) return [];
  const lines = p.h.stderr.join('').split('\n');
  return lines
    .filter((l) => l.includes(`"node":"${p.m.name}"`) && /dial failed|could not dial/.test(l))
    .slice(-2);
};
console.log(`up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const profileSeconds = Number(process.env.TRACE_PROFILE ?? 0);
/** Where the first bootstrap peer's process spends its CPU while the others join. */
const profiled =
  profileSeconds > 0 && hosts[0] !== undefined
    ? (async (host) => {
        const file = join(tmpdir(), `meshcache-join-${process.pid}.cpuprofile`);
        await host.call(
          { cmd: 'cpu-profile', file, ms: profileSeconds * 1000 },
          profileSeconds * 1000 + 60_000,
        );
        const { places } = topFrames(JSON.parse(readFileSync(file, 'utf8')) as Profile);
        console.log(`# where host-1 spent ${profileSeconds} s (self ms): ${file}`);
        for (const [place, ms] of places.slice(0, 25)) console.log(`  ${place}: ${ms.toFixed(0)}`);
      })(hosts[0])
    : undefined;
for (let i = 0; i < 14; i++) {
  const reps = await Promise.all(mesh.map(async (m, idx) => ({ idx, r: await meshReport(m) })));
  reps.sort((a, b) => (a.r.members ?? 0) - (b.r.members ?? 0));
  const t = ((performance.now() - t0) / 1000).toFixed(0);
  for (const { idx, r } of reps.slice(0, 3)) {
    const c = KEYS.map((k) => `${k.split(':')[1]}=${(r.sent[k] ?? 0) + (r.received[k] ?? 0)}`).join(' ');
    const hb = r.received['rec:hb:posted'] ?? 0;
    console.log(`${t}s node${idx} members=${r.members} conns=${r.connections} hb-in=${hb} ${c}`);
    if (logLevel !== undefined) {
      for (const l of failedDials(idx)) console.log(`    ${l.slice(0, 400)}`);
      const q = await mesh[idx]?.call({ cmd: 'dial-queue' }, 30_000);
      console.log(`    dial queue: ${JSON.stringify(q)}`);
    }
  }
  if ((reps[0]?.r.members ?? 0) >= n - 1) break;
  await sleep(10_000);
}
await profiled;
await fleet.stop();
release();
process.exit(0);
