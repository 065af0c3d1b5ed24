/**
 * Tiny benchmark harness: runs each case for a fixed time after a warm-up,
 * repeats it, keeps the median, and prints a markdown table. Cases of one table
 * run interleaved in the same process, so they share the machine's state.
 */
import os from 'node:os';

/** One measured operation: `run(n)` performs n operations and resolves when done. */
export interface Case {
  name: string;
  run: (n: number) => Promise<void> | void;
}

export interface Result {
  name: string;
  opsPerSec: number;
  usPerOp: number;
}

const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 300);
const MEASURE_MS = Number(process.env.BENCH_MS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function timeFor(c: Case, ms: number): Promise<number> {
  let batch = 1000;
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    await c.run(batch);
    ops += batch;
    elapsed = performance.now() - start;
    if (elapsed < ms / 10) batch *= 2;
  }
  return (ops / elapsed) * 1000;
}

/** Measures every case (median of ROUNDS interleaved rounds). */
export async function measure(cases: Case[]): Promise<Result[]> {
  for (const c of cases) await timeFor(c, WARMUP_MS);
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < ROUNDS; r++)
    for (const c of cases) samples.get(c.name)!.push(await timeFor(c, MEASURE_MS));
  return cases.map((c) => {
    const s = samples.get(c.name)!.sort((a, b) => a - b);
    const opsPerSec = s[Math.floor(s.length / 2)];
    return { name: c.name, opsPerSec, usPerOp: 1e6 / opsPerSec };
  });
}

/** Runs `op` n times one after another, awaiting each. */
export function sequential(op: () => Promise<unknown> | unknown): (n: number) => Promise<void> {
  return async (n) => {
    for (let i = 0; i < n; i++) await op();
  };
}

/** Runs `op` n times keeping `inFlight` calls pending at once. */
export function concurrent(
  op: () => Promise<unknown> | unknown,
  inFlight: number,
): (n: number) => Promise<void> {
  return async (n) => {
    let started = 0;
    const worker = async () => {
      while (started < n) {
        started++;
        await op();
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
  };
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A markdown table of results, with the ratio against a baseline row. */
export function table(title: string, results: Result[], baseline?: string): string {
  const base = baseline === undefined ? undefined : results.find((r) => r.name === baseline);
  const lines = [
    `### ${title}`,
    '',
    `| case | ops/s | µs/op |${base ? ` vs ${base.name} |` : ''}`,
    `|---|---:|---:|${base ? '---:|' : ''}`,
  ];
  for (const r of results) {
    const ratio = base ? ` ${(r.opsPerSec / base.opsPerSec).toFixed(2)}x |` : '';
    lines.push(`| ${r.name} | ${fmt.format(r.opsPerSec)} | ${r.usPerOp.toFixed(3)} |${ratio}`);
  }
  return lines.join('\n');
}

/** One line describing the machine. */
export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** The two load shapes of the call benchmarks: one call at a time, and 100 in flight. */
export const LOADS = [
  ['sequential', (op: () => unknown) => sequential(op)],
  ['100 in flight', (op: () => unknown) => concurrent(op, 100)],
] as const;
