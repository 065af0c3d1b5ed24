/**
 * The commands of examples/dht-node.ts that the scale benchmark (bench/scale.ts)
 * adds: `scale-stats` (members, libp2p connections, message counts, memory),
 * `load` (a steady rate of DHT reads, writes and deletes for a while) and
 * `time-call` (latency of node.request on a path, e.g. `echo/ping` hosted
 * elsewhere), `dial-queue` (libp2p's pending dials: why a node does not meet
 * others) and `cpu-profile` (a V8 CPU profile of this process for a while,
 * written to a file: where an idle node spends its time). Also the `echo` service (`--services echo`): one uncached action,
 * so a remote call measures the call itself, not a cache.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import type { DhtBackend } from '#meshcache/cache/backends/dht/index.js';
import { compileGlob } from '#meshcache/cache/keys/glob.js';
import type { Node, RequestContext, ServiceDefinition } from '#meshcache/index.js';
import type { MeshNetwork } from '#meshcache/network/index.js';

export interface ScaleContext {
  readonly node: Node;
  readonly dht: DhtBackend;
  readonly network: () => MeshNetwork;
}

/** `echo/ping` answers its params: no cache, no I/O. */
export function echoService(): ServiceDefinition {
  return {
    name: 'echo',
    actions: { ping: async (_ctx: RequestContext, p: Record<string, unknown>) => p },
  };
}

/** p50/p99/mean of samples in ms. */
export function summary(samples: number[]): { n: number; p50: number; p99: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return {
    n: s.length,
    p50: at(0.5),
    p99: at(0.99),
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
  };
}

/** Measures `op` for each key sequentially; returns the latency summary in ms. */
export async function timeEach(
  keys: string[],
  op: (key: string) => unknown,
): Promise<ReturnType<typeof summary> & { samples: number[]; failures: number }> {
  const samples: number[] = [];
  let failures = 0;
  for (const key of keys) {
    const t = performance.now();
    try {
      await op(key);
    } catch {
      failures++; // timed out or failed: its duration still counts
    }
    samples.push(performance.now() - t);
  }
  return { ...summary(samples), samples, failures };
}

/**
 * Resolves with the epoch ms at which an invalidation matching `cmd.key` (or
 * rules of `cmd.prefix`) was applied by `dht`; `listening` runs once it listens.
 */
export function invalidationApplied(
  dht: DhtBackend,
  cmd: Record<string, unknown>,
  listening: () => void,
): Promise<number> {
  const key = cmd.key as string | undefined;
  const prefix = cmd.prefix as string | undefined;
  return new Promise<number>((resolve) => {
    const off = dht.onInvalidation((info) => {
      const hit =
        key !== undefined
          ? info.key === key ||
            (info.prefix !== undefined &&
              key.startsWith(info.prefix) &&
              (info.pattern === undefined || compileGlob(info.pattern).test(key.slice(info.prefix.length))))
          : info.prefix === prefix;
      if (!hit) return;
      off();
      resolve(performance.timeOrigin + performance.now());
    });
    listening();
  });
}

/** Most operations of the load in flight at once; the ones due past it are skipped (and counted). */
const MAX_IN_FLIGHT = 64;
const TICK_MS = 50;

/** Handles a scale command; undefined when `cmd` is not one of them. */
export async function scaleCommand(
  cmd: Record<string, unknown>,
  ctx: ScaleContext,
): Promise<Record<string, unknown> | undefined> {
  switch (cmd.cmd) {
    case 'scale-stats': {
      const net = ctx.network();
      // A build without network.stats() (older code) still reports members and connections.
      const stats = typeof net.stats === 'function' ? net.stats() : undefined;
      return {
        members: net.peers().length,
        connections: net.libp2p?.getConnections().length ?? 0,
        sent: stats?.sent ?? {},
        received: stats?.received ?? {},
        rss: process.memoryUsage().rss,
      };
    }
    case 'dial-queue': {
      const queue = ctx.network().libp2p?.getDialQueue() ?? [];
      return {
        dials: queue.slice(0, 8).map((d) => ({
          status: d.status,
          peer: d.peerId?.toString().slice(-8),
          addrs: d.multiaddrs.map((a) => a.toString()).slice(0, 2),
        })),
        size: queue.length,
      };
    }
    case 'load':
      return runLoad(ctx.dht, {
        reads: Number(cmd.reads ?? 0),
        writes: Number(cmd.writes ?? 0),
        deletes: Number(cmd.deletes ?? 0),
        keys: Number(cmd.keys ?? 200),
        prefix: String(cmd.prefix ?? 'cache:scale/load/k'),
        durationMs: Number(cmd.durationMs ?? 10_000),
      });
    case 'cpu-profile':
      return {
        file: await cpuProfile(String(cmd.file), Number(cmd.ms ?? 30_000), Number(cmd.intervalUs ?? 100)),
      };
    case 'time-call': {
      const path = String(cmd.path);
      const count = Number(cmd.count ?? 100);
      const samples: number[] = [];
      let failures = 0;
      for (let i = 0; i < count; i++) {
        const t = performance.now();
        try {
          await ctx.node.request(path, { i });
        } catch {
          failures++;
        }
        samples.push(performance.now() - t);
      }
      return { samples, failures };
    }
  }
  return undefined;
}

interface LoadOptions {
  /** Operations per second on this node. */
  readonly reads: number;
  readonly writes: number;
  readonly deletes: number;
  /** Keys drawn from (`prefix` + 0 .. keys - 1), shared by every node. */
  readonly keys: number;
  readonly prefix: string;
  readonly durationMs: number;
}

/** Runs the operations at their rates for `durationMs`; resolves with what was done. */
async function runLoad(dht: DhtBackend, o: LoadOptions): Promise<Record<string, unknown>> {
  const value = { id: 1, name: 'x'.repeat(100) };
  const done = { reads: 0, writes: 0, deletes: 0, failures: 0, skipped: 0 };
  const due = { reads: 0, writes: 0, deletes: 0 };
  const ops = {
    reads: (k: string) => dht.get(k),
    writes: (k: string) => dht.set(k, value, 600),
    deletes: (k: string) => dht.delete(k),
  };
  let inFlight = 0;
  const running = new Set<Promise<unknown>>();
  const fire = (kind: keyof typeof ops) => {
    if (inFlight >= MAX_IN_FLIGHT) {
      done.skipped++;
      return;
    }
    inFlight++;
    const key = `${o.prefix}${Math.floor(Math.random() * o.keys)}`;
    const p = Promise.resolve()
      .then(() => ops[kind](key))
      .then(
        () => {
          done[kind]++;
        },
        () => {
          done.failures++;
        },
      )
      .finally(() => {
        inFlight--;
        running.delete(p);
      });
    running.add(p);
  };
  const started = performance.now();
  let last = started;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const dt = (now - last) / 1000;
      last = now;
      for (const kind of ['reads', 'writes', 'deletes'] as const) {
        due[kind] += o[kind] * dt;
        while (due[kind] >= 1) {
          due[kind]--;
          fire(kind);
        }
      }
      if (now - started >= o.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  await Promise.allSettled([...running]);
  return { done, ms: performance.now() - started };
}

/** Profiles this process for `ms` (sampling every `intervalUs`) and writes the .cpuprofile to `file`. */
async function cpuProfile(file: string, ms: number, intervalUs: number): Promise<string> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))),
    );
  try {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: intervalUs });
    await post('Profiler.start');
    await new Promise((r) => setTimeout(r, ms));
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(file, JSON.stringify(profile));
    return file;
  } finally {
    session.disconnect();
  }
}
