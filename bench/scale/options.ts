/** Options of the scale benchmark from the environment (bench/scale.ts lists them), and its build step. */
import { execFileSync } from 'node:child_process';
import type { ScaleOptions } from './run-size.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

export function scaleOptions(overrides: Partial<ScaleOptions> = {}): ScaleOptions {
  const [reads = 10, writes = 1, deletes = 0.1] = (process.env.BENCH_SCALE_LOAD ?? '10,1,0.1')
    .split(',')
    .map(Number);
  return {
    idleMs: env('BENCH_SCALE_IDLE_MS', 30_000),
    settleMs: env('BENCH_SCALE_SETTLE_MS', 10_000),
    loadMs: env('BENCH_SCALE_LOAD_MS', 20_000),
    load: { reads, writes, deletes },
    joinTimeoutMs: env('BENCH_SCALE_JOIN_TIMEOUT_MS', 90_000),
    perWriter: env('BENCH_SCALE_PER_WRITER', 20),
    reachRounds: env('BENCH_SCALE_REACH_ROUNDS', 20),
    calls: env('BENCH_SCALE_CALLS', 200),
    bare: process.env.BENCH_SCALE_BARE !== '0',
    concurrency: 4,
    nodeArgs: (process.env.BENCH_SCALE_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0),
    perProcess: perProcessOf(process.env.BENCH_SCALE_PER_PROCESS ?? DEFAULT_PER_PROCESS),
    progress: () => {},
    ...overrides,
  };
}

/**
 * Nodes per OS process by size: one process each up to 20 nodes, which this
 * 2-core machine runs; past that, several (bench/scale/node-host.ts).
 */
const DEFAULT_PER_PROCESS = '1,50:5,100:5';

/**
 * `BENCH_SCALE_PER_PROCESS`: a number for every size, and `N:K` pairs for
 * size N (`"1,50:5,100:5"`).
 */
export function perProcessOf(spec: string): (nodes: number) => number {
  let all = 1;
  const bySize = new Map<number, number>();
  for (const part of spec.split(',').filter((p) => p.trim().length > 0)) {
    const [a, b] = part.split(':').map(Number);
    const ok = (x: number | undefined) => x !== undefined && Number.isInteger(x) && x >= 1;
    if (b === undefined && ok(a)) all = a as number;
    else if (ok(a) && ok(b)) bySize.set(a as number, b as number);
    else
      throw new Error(`BENCH_SCALE_PER_PROCESS: "${part}" is neither a count nor N:K (e.g. "1,50:5,100:5")`);
  }
  return (nodes) => bySize.get(nodes) ?? all;
}

/** Builds dist/ and dist-bench/ (the node processes run the built code). */
export function buildForBench(): void {
  execFileSync('npm', ['run', '-s', 'build:bench'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
