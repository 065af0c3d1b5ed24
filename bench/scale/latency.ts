/**
 * Latencies measured inside the node processes: DHT put, hit (a reader
 * holding no copy: one hop to a holder, or a kad-dht lookup when the
 * membership is not complete), miss, a remote call, and invalidation reach
 * (a revoke on one node until the slowest node applied it).
 */
import type { Member } from './members.js';

export interface Latency {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
}

export function pct(samples: number[], q: number): number {
  const s = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

class Samples {
  readonly xs: number[] = [];
  failures = 0;
  add(st: { samples?: number[]; failures?: number }): void {
    this.xs.push(...(st.samples ?? []));
    this.failures += st.failures ?? 0;
  }
  get latency(): Latency {
    return { n: this.xs.length, p50: pct(this.xs, 0.5), p99: pct(this.xs, 0.99), failures: this.failures };
  }
}

async function timeOp(p: Member, op: string, keys: string[], into: Samples): Promise<void> {
  const r = await p.call({ cmd: 'time', op, keys }, 300_000);
  into.add(r.stats as { samples: number[]; failures: number });
}

export interface DhtLatencies {
  readonly put: Latency;
  readonly hit: Latency;
  readonly miss: Latency;
}

/**
 * Three writers put `perWriter` keys each; up to three other nodes read
 * another writer's keys (only those they hold no copy of) and absent keys.
 * The three writers run at once, then the three readers.
 */
export async function dhtLatencies(procs: Member[], perWriter: number): Promise<DhtLatencies> {
  const writers = procs.slice(0, 3);
  const readers = procs.length > 3 ? procs.slice(-3) : procs.slice(-1);
  const keys = (w: number, kind: string) =>
    Array.from({ length: perWriter }, (_, i) => `cache:scale/${kind}-${w}-${i}`);
  const warm = new Samples();
  // Warm-up (JIT, streams): not counted.
  await Promise.all(writers.map((w, i) => timeOp(w, 'set', keys(i, 'warm').slice(0, 20), warm)));
  await Promise.all(
    readers.map((r, i) => timeOp(r, 'get', keys(i % writers.length, 'warm').slice(0, 20), warm)),
  );
  const put = new Samples();
  const hit = new Samples();
  const miss = new Samples();
  // Nodes measure at the same time (each its operations one after the other): a kad-dht
  // lookup takes seconds on a loaded machine, and the phase must stay bounded.
  await Promise.all(writers.map((w, i) => timeOp(w, 'set', keys(i, 'v'), put)));
  await Promise.all(
    readers.map(async (r, i) => {
      const w = (i + 1) % writers.length;
      await timeOp(r, 'getRemote', keys(w, 'v'), hit);
      await timeOp(r, 'get', keys(w, 'absent'), miss);
    }),
  );
  return { put: put.latency, hit: hit.latency, miss: miss.latency };
}

/** `caller` calls `path` (hosted elsewhere only) `count` times, after a warm-up. */
export async function callLatency(caller: Member, path: string, count: number): Promise<Latency> {
  await caller.call({ cmd: 'time-call', path, count: 20 }, 300_000);
  const r = await caller.call({ cmd: 'time-call', path, count }, 300_000);
  const s = new Samples();
  s.add(r as unknown as { samples: number[]; failures: number });
  return s.latency;
}

export interface Reach {
  /** The slowest node of each revoke. */
  readonly slowest: Latency;
  /** Revokes after which some node never applied it (10 s), left out of the samples. */
  readonly missedRounds: number;
  /** Nodes that reported an applied revoke, over all rounds (every node, every round when complete). */
  readonly nodesReached: number;
  readonly nodesExpected: number;
}

/**
 * `rounds` revokes, each from another node: every node watches for it, the
 * origin revokes, and the slowest node's time from the revoke to its applying
 * it is one sample (all on one machine: one clock).
 */
export async function invalidationReach(procs: Member[], rounds: number): Promise<Reach> {
  const slowest: number[] = [];
  let missedRounds = 0;
  let reached = 0;
  for (let r = 0; r < rounds; r++) {
    const key = `cache:scale/inv/k${r}`;
    const watches = await Promise.all(procs.map((p) => p.watch({ key }, 10_000)));
    const origin = procs[(r * 7 + 1) % procs.length] as Member;
    const reply = await origin.call({
      cmd: 'dht',
      op: 'revoke',
      prefix: 'cache:scale/inv/',
      pattern: `k${r}`,
    });
    const at = Number(reply.at);
    const applied = await Promise.all(watches.map((w) => w.applied.catch(() => Number.NaN)));
    const reach = applied.map((t) => t - at);
    const ok = reach.filter((x) => Number.isFinite(x));
    reached += ok.length;
    if (ok.length < reach.length) missedRounds++;
    else slowest.push(Math.max(...reach));
  }
  return {
    slowest: { n: slowest.length, p50: pct(slowest, 0.5), p99: pct(slowest, 0.99), failures: missedRounds },
    missedRounds,
    nodesReached: reached,
    nodesExpected: rounds * procs.length,
  };
}
