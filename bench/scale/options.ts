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
    progress: () => {},
    ...overrides,
  };
}

/** Builds dist/ and dist-bench/ (the node processes run the built code). */
export function buildForBench(): void {
  execFileSync('npm', ['run', '-s', 'build:bench'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
