/**
 * Where an idle node's CPU goes: starts N node processes (built code, default
 * 20), waits for the membership and a quiet period, then takes a V8 CPU
 * profile of one node for a while and prints the functions and the packages
 * with the most self time, beside the node's CPU from /proc over the same time.
 *
 *   BENCH_NO_BUILD=1 [BENCH_IDLE_SETTLE_MS=15000] npx tsx bench/scale/idle-profile.ts [nodes=20] [seconds=30] [-- node flags...]
 */
import '../../src/polyfills.js';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeProcess } from '../../test/helpers/cluster.js';
import { Fleet, killOnExit } from './fleet.js';
import { membersOf } from './members.js';
import { buildForBench } from './options.js';
import { cpuPercent, sample, uptime } from './procfs.js';
import { type Profile, topFrames } from './profile-frames.js';
import { spawnMesh } from './run-size.js';
import { meshReport } from './window.js';

async function main(): Promise<void> {
  const sep = process.argv.indexOf('--');
  const positional = process.argv.slice(2, sep === -1 ? undefined : sep);
  const n = Number(positional[0] ?? 20);
  const seconds = Number(positional[1] ?? 30);
  const args = sep === -1 ? [] : process.argv.slice(sep + 1);
  if (process.env.BENCH_NO_BUILD !== '1') buildForBench();
  const fleet = new Fleet();
  killOnExit(fleet);
  const network = `profile-${process.pid}`;
  try {
    const procs: NodeProcess[] = await spawnMesh(fleet, network, n, 1, 4, args);
    const t0 = Date.now();
    let m: number[] = [];
    while (Date.now() < t0 + 120_000) {
      m = await Promise.all(procs.map(async (p) => Number((await p.call({ cmd: 'scale-stats' })).members)));
      if (m.every((x) => x >= n - 1)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const joined = `members ${Math.min(...m)}..${Math.max(...m)} of ${n - 1}, ${((Date.now() - t0) / 1000).toFixed(1)} s after the last start`;
    await new Promise((r) => setTimeout(r, Number(process.env.BENCH_IDLE_SETTLE_MS ?? 15_000)));
    const target = procs[Math.floor(n / 2)] as NodeProcess;
    const pid = target.child.pid ?? -1;
    const file = join(tmpdir(), `meshcache-idle-${pid}.cpuprofile`);
    const [member] = membersOf(target);
    if (member === undefined) throw new Error('no node');
    const c0 = await meshReport(member);
    const before = sample(pid);
    await target.call({ cmd: 'cpu-profile', file, ms: seconds * 1000 }, seconds * 1000 + 30_000);
    const after = sample(pid);
    const c1 = await meshReport(member);
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const { functions, places } = topFrames(profile);
    const total = places.filter(([k]) => k !== '(idle)').reduce((a, [, v]) => a + v, 0);
    console.log(`# idle profile: node ${target.name} of ${n}, ${seconds} s (${file})`);
    console.log(`uptime: ${uptime()}; ${joined}; ${c1.connections} connections at the end`);
    const rates = Object.entries(c1.sent)
      .map(([k, v]): [string, number] => [`sent ${k}`, v - (c0.sent[k] ?? 0)])
      .concat(
        Object.entries(c1.received).map(([k, v]): [string, number] => [
          `received ${k}`,
          v - (c0.received[k] ?? 0),
        ]),
      )
      .filter(([, d]) => d > 0)
      .map(([k, d]) => `${k} ${(d / seconds).toFixed(2)}/s`);
    console.log(`messages of the profiled node meanwhile: ${rates.join(', ') || 'none'}`);
    if (before && after)
      console.log(
        `CPU from /proc over the profile: ${cpuPercent(before, after).toFixed(2)}% of a core (profiler included)`,
      );
    console.log(
      `sampled non-idle time: ${total.toFixed(1)} ms (${((total / (seconds * 1000)) * 100).toFixed(2)}% of a core)\n`,
    );
    console.log('| package or file | self ms |\n|---|---:|');
    for (const [k, v] of places.slice(0, 20)) console.log(`| ${k} | ${v.toFixed(1)} |`);
    console.log('\n| function | self ms |\n|---|---:|');
    for (const [k, v] of functions.filter(([k]) => !k.startsWith('(idle)')).slice(0, 30))
      console.log(`| ${k} | ${v.toFixed(1)} |`);
  } finally {
    await fleet.stop();
    fleet.killAll();
  }
}

await main();
