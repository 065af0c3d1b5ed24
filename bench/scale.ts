/**
 * Networks of 5 to 100 meshcache nodes: N node processes (examples/dht-node.ts
 * built to dist-bench/, on dist/) joined in one DHT network on 127.0.0.1, one
 * node per process (several to a process at 50 and 100: the machine's 2 cores
 * run out), and as many bare libp2p nodes (bench/bare-node.ts), as many to a
 * process, beside them for the idle comparison. Per size: time to full membership; DHT hit
 * (reader holding no copy), miss and put; invalidation reach to the slowest
 * node; a remote call; and per node at idle and under a steady load: CPU,
 * RSS, connections, messages per second by kind (network.stats()).
 *
 *   npm run bench -- scale                       # 5, 20, 50, 100 nodes
 *   BENCH_SCALE_NODES=5,20 npx tsx bench/scale.ts
 *
 * Env: BENCH_SCALE_IDLE_MS (30000), BENCH_SCALE_SETTLE_MS (10000),
 * BENCH_SCALE_LOAD_MS (20000), BENCH_SCALE_JSON (a file for the raw results), BENCH_SCALE_LOAD ("10,1,0.1": reads, writes,
 * deletes per node and second), BENCH_SCALE_BARE (1), BENCH_SCALE_JOIN_TIMEOUT_MS
 * (90000), BENCH_SCALE_PER_WRITER (20), BENCH_SCALE_REACH_ROUNDS (20),
 * BENCH_SCALE_CALLS (200), BENCH_SCALE_PER_PROCESS ("1,50:5,100:5": nodes per OS
 * process, a count for every size and N:K for size N; bench/scale/node-host.ts
 * holds several), BENCH_SCALE_NODE_ARGS (flags for every node, e.g.
 * "--max-staleness-ms 5000"), BENCH_NO_BUILD=1 (skip
 * `npm run build:bench`). Ctrl-C kills every node process it started.
 */
import '../src/polyfills.js';
import { writeFileSync } from 'node:fs';
import { machine } from './harness.js';
import { buildForBench, scaleOptions } from './scale/options.js';
import { scaleTables } from './scale/report.js';
import { runScale, type ScaleResult } from './scale/run-size.js';

const progress = (msg: string) =>
  process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_SCALE_NODES ?? '5,20,50,100').split(',').map(Number);
  if (process.env.BENCH_NO_BUILD !== '1') {
    progress('npm run build:bench');
    buildForBench();
  }
  const options = scaleOptions({ progress });
  const results: ScaleResult[] = [];
  for (const n of sizes) {
    progress(`${n} nodes`);
    results.push(await runScale(n, options));
    // Each size as it completes (a later one may fail).
    process.stderr.write(`${scaleTables(results.slice(-1))}\n`);
    // The raw results too (BENCH_SCALE_JSON=<file>), to render the tables again.
    if (process.env.BENCH_SCALE_JSON) writeFileSync(process.env.BENCH_SCALE_JSON, JSON.stringify(results));
  }
  const l = options.load;
  console.log(
    [
      `Machine: ${machine()}. Command: \`BENCH_SCALE_NODES=${sizes.join(',')} npm run bench -- scale\` (${new Date().toISOString().slice(0, 10)}).`,
      `One node per process, built code, near tier off, replication 3; idle window ${options.idleMs / 1000} s after ${options.settleMs / 1000} s of quiet; load: per node ${l.reads} reads, ${l.writes} writes, ${l.deletes} deletes (invalidations) per second on 200 shared keys for ${options.loadMs / 1000} s. Bare libp2p processes run beside the network during its idle window (discovery lookup every 60 s, as meshcache).`,
      '',
      scaleTables(results),
    ].join('\n'),
  );
}

await main();
