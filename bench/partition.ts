/**
 * The stale window under a partition (`npm run bench -- partition`, as root):
 * node processes in network namespaces (test/helpers/netns.ts), the reader A
 * cut off for 5 s while C deletes the entry A holds; per backend, how long
 * after the delete resolved A last answered with the old value, beside
 * `cache.coherence.maxStalenessMs`. Runs per backend: BENCH_PARTITION_RUNS (5).
 */
import { netnsUnsupportedReason } from '../test/helpers/netns.js';
import { type CutReport, runCut } from '../test/helpers/partition.js';
import { dhtScenario, redisScenario, type Scenario } from '../test/helpers/partition-setup.js';
import { findRedisBinaries } from '../test/helpers/redis-server.js';

const RUNS = Number(process.env.BENCH_PARTITION_RUNS ?? 5);
const CUT_MS = 5000;
const BOUND_MS = 1000;

interface Row {
  backend: string;
  windows: number[];
  /** The same from the moment the delete was called (a DHT delete waits for the holder it cannot reach). */
  fromCall: number[];
  deleteMs: number[];
  /** Runs whose loop ended on the old value (their window is a lower bound). */
  open: number;
  afterRestore: number;
  failed: number;
  slowestMs: number;
  note: string;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function measure(backend: string, start: () => Promise<Scenario>): Promise<Row> {
  const scenario = await start();
  const reports: CutReport[] = [];
  let left: string[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const ready = await scenario.prepare();
      if (!ready.victimHit) throw new Error(`${backend}: A's read was not a hit before the cut`);
      const { lab, nodes, db } = scenario;
      reports.push(
        await runCut({
          lab,
          nodes,
          db,
          id: ready.id,
          victim: 'a',
          deleter: 'c',
          cutMs: CUT_MS,
          afterRestoreMs: 4000,
        }),
      );
      process.stderr.write(
        `partition ${backend} run ${i + 1}/${RUNS}: ${reports.at(-1)!.nodes.a!.staleWindowMs} ms\n`,
      );
    }
  } finally {
    left = await scenario.close();
  }
  if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(', ')}`);
  const all = reports.flatMap((r) => Object.values(r.nodes));
  return {
    backend,
    windows: reports.map((r) => r.nodes.a!.staleWindowMs),
    fromCall: reports.map((r) => r.nodes.a!.staleFromCallMs),
    deleteMs: reports.map((r) => r.deletedAt - r.deleteStartedAt),
    open: reports.filter((r) => r.nodes.a!.staleAtEnd).length,
    afterRestore: reports.reduce((n, r) => n + r.nodes.a!.staleAfterRestore, 0),
    failed: all.reduce((n, x) => n + x.failures.length, 0),
    slowestMs: Math.max(...all.map((x) => x.slowestMs)),
    note: scenario.coherenceOption ? '' : ' (cache.coherence refused: defaults)',
  };
}

export async function benchPartition(): Promise<string> {
  const reason = netnsUnsupportedReason();
  if (reason !== undefined) return `Not run: ${reason}.`;
  const rows = [];
  if (findRedisBinaries() === undefined) process.stderr.write('partition: no redis-server, Redis skipped\n');
  else rows.push(await measure('Redis + near tier', () => redisScenario(BOUND_MS)));
  rows.push(await measure('DHT (A a holder) + near tier', () => dhtScenario(BOUND_MS)));
  const lines = [
    `A cut off for ${CUT_MS / 1000} s, C deletes 250 ms into the cut; A and every other node request the key every 20 ms.`,
    'Stale window: the last answer with the old value on A, after the delete resolved (0: none); "from the call":',
    'the same from the moment C called the delete. ">=": in some run A still answered the old value when the',
    'loop stopped, 4 s after the restore.',
    '',
    '| backend | runs | stale window p50 | max | bound (maxStalenessMs) | from the call p50 / max | delete took p50 | stale answers after restore | failed requests | slowest answer |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const p50 = (xs: number[]) =>
    quantile(
      [...xs].sort((a, b) => a - b),
      0.5,
    );
  for (const r of rows) {
    const open = r.open > 0 ? '>= ' : '';
    const cells = [
      `${r.backend}${r.note}`,
      r.windows.length,
      `${p50(r.windows)} ms`,
      `${open}${Math.max(...r.windows)} ms`,
      `${BOUND_MS} ms`,
      `${p50(r.fromCall)} / ${open}${Math.max(...r.fromCall)} ms`,
      `${p50(r.deleteMs)} ms`,
      r.afterRestore,
      r.failed,
      `${r.slowestMs.toFixed(0)} ms`,
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
