/**
 * One size of the scale benchmark: N meshcache node processes (built code)
 * joined in one network on loopback, beside N bare libp2p processes for the
 * idle comparison; join time, latencies, and per-node cost at idle and under
 * a steady load. Every process it starts is stopped before it returns (or
 * killed on failure and on Ctrl-C: fleet.ts).
 */
import { BARE_NODE_SCRIPT, type NodeProcess } from '../../test/helpers/cluster.js';
import { Fleet, killOnExit } from './fleet.js';
import {
  callLatency,
  type DhtLatencies,
  dhtLatencies,
  invalidationReach,
  type Latency,
  type Reach,
} from './latency.js';
import { alive, uptime } from './procfs.js';
import {
  bareReport,
  measureWindow,
  meshReport,
  type Summary,
  summarize,
  type WindowStats,
} from './window.js';

export interface ScaleOptions {
  /** Idle window, ms (after `settleMs`). */
  readonly idleMs: number;
  readonly settleMs: number;
  /** Steady-load window, ms. */
  readonly loadMs: number;
  /** Per node and second: DHT reads, writes and deletes (each delete is an invalidation sent to every member). */
  readonly load: { readonly reads: number; readonly writes: number; readonly deletes: number };
  /** Longest wait for full membership after the last process is up, ms. */
  readonly joinTimeoutMs: number;
  readonly perWriter: number;
  readonly reachRounds: number;
  readonly calls: number;
  /** Start N bare libp2p processes beside the network for the idle comparison. */
  readonly bare: boolean;
  /** Processes started at once. */
  readonly concurrency: number;
  readonly progress: (msg: string) => void;
}

export interface ScaleResult {
  readonly nodes: number;
  /** Node processes (one node each). */
  readonly processes: number;
  /** From the first spawn until every process was up, ms. */
  readonly spawnMs: number;
  /** From the first spawn until every node counted N - 1 members, ms (NaN: not reached). */
  readonly joinMs: number;
  readonly members: Summary;
  readonly dht: DhtLatencies;
  readonly call: Latency;
  readonly reach: Reach;
  readonly idle: WindowStats;
  readonly bareIdle?: WindowStats;
  readonly bareConnected: Summary;
  readonly loaded: WindowStats;
  /** Operations the load ran, all nodes together, per second. */
  readonly loadDone: Record<string, number>;
  readonly uptimeBefore: string;
  readonly uptimeAfter: string;
  /** Processes still alive after the stop (should be 0). */
  readonly leftovers: number;
  readonly pids: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until every node counts `want` members; the time it happened (performance.now()), or NaN. */
async function waitMembership(procs: NodeProcess[], want: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const members = await Promise.all(procs.map(async (p) => (await meshReport(p)).members ?? 0));
    if (members.every((m) => m >= want)) return performance.now();
    if (performance.now() > deadline) return Number.NaN;
    await sleep(250);
  }
}

export async function runScale(n: number, o: ScaleOptions): Promise<ScaleResult> {
  const fleet = new Fleet();
  const release = killOnExit(fleet);
  const uptimeBefore = uptime();
  const network = `scale-${n}-${process.pid}`;
  try {
    const t0 = performance.now();
    const first = await fleet.spawn({ network, name: 'node-1', near: false, built: true });
    const bootstrap = first.ready.addresses;
    // node-2 alone hosts `echo`: the remote call goes from the last node to it.
    const rest = await fleet.spawnMany(n - 1, o.concurrency, (i) => ({
      network,
      name: `node-${i + 2}`,
      near: false,
      built: true,
      bootstrap,
      readyTimeoutMs: 120_000,
      ...(i === 0 ? { args: ['--services', 'user,echo'] } : {}),
    }));
    const mesh = [first, ...rest];
    const spawnMs = performance.now() - t0;
    o.progress(`${n} processes up in ${(spawnMs / 1000).toFixed(1)} s`);
    const joinedAt = await waitMembership(mesh, n - 1, o.joinTimeoutMs);
    const joinMs = joinedAt - t0;
    const members = summarize(await Promise.all(mesh.map(async (p) => (await meshReport(p)).members ?? 0)));
    o.progress(
      Number.isNaN(joinMs)
        ? `membership not complete after ${o.joinTimeoutMs / 1000} s: ${members.min}..${members.max} of ${n - 1}`
        : `full membership in ${(joinMs / 1000).toFixed(1)} s`,
    );

    let bare: NodeProcess[] = [];
    let bareConnected = summarize([]);
    if (o.bare) {
      const b1 = await fleet.spawn({
        network,
        name: 'bare-1',
        script: BARE_NODE_SCRIPT,
        args: ['--discovery-ms', '60000'],
      });
      const others = await fleet.spawnMany(n - 1, o.concurrency, (i) => ({
        network,
        name: `bare-${i + 2}`,
        script: BARE_NODE_SCRIPT,
        bootstrap: b1.ready.addresses,
        readyTimeoutMs: 120_000,
        // meshcache's discoveryIntervalMs: the same upkeep on both sides.
        args: ['--discovery-ms', '60000'],
      }));
      bare = [b1, ...others];
      const deadline = performance.now() + o.joinTimeoutMs;
      for (;;) {
        const peers = await Promise.all(
          bare.map(async (p) => ((await p.call({ cmd: 'info' })).peers as string[]).length),
        );
        bareConnected = summarize(peers);
        if (bareConnected.min >= n - 1 || performance.now() > deadline) break;
        await sleep(250);
      }
      o.progress(`${n} bare libp2p processes up, ${bareConnected.min}..${bareConnected.max} peers each`);
    }

    await sleep(o.settleMs);
    o.progress(`idle window ${o.idleMs / 1000} s`);
    const [idle, bareIdle] = await Promise.all([
      measureWindow(mesh, meshReport, o.idleMs),
      bare.length > 0 ? measureWindow(bare, bareReport, o.idleMs) : Promise.resolve(undefined),
    ]);
    await fleet.stop(bare);

    o.progress('latencies');
    const dht = await dhtLatencies(mesh, o.perWriter);
    const call = await callLatency(mesh[n - 1] as NodeProcess, 'echo/ping', o.calls);
    const reach = await invalidationReach(mesh, o.reachRounds);

    o.progress(`load window ${o.loadMs / 1000} s`);
    const loadKeys = Array.from({ length: 200 }, (_, i) => `cache:scale/load/k${i}`);
    await first.call({ cmd: 'time', op: 'set', keys: loadKeys }, 300_000);
    const replies: Array<Record<string, unknown>> = [];
    const loaded = await measureWindow(mesh, meshReport, o.loadMs, async () => {
      const rs = await Promise.all(
        mesh.map((p) => p.call({ cmd: 'load', ...o.load, durationMs: o.loadMs }, o.loadMs + 120_000)),
      );
      replies.push(...rs);
    });
    const loadDone: Record<string, number> = {};
    for (const r of replies)
      for (const [k, v] of Object.entries(r.done as Record<string, number>))
        loadDone[k] = (loadDone[k] ?? 0) + v / (o.loadMs / 1000);

    const uptimeAfter = uptime();
    await fleet.stop();
    await sleep(200);
    const leftovers = fleet.pids.filter(alive).length;
    return {
      nodes: n,
      processes: n,
      spawnMs,
      joinMs,
      members,
      dht,
      call,
      reach,
      idle,
      ...(bareIdle === undefined ? {} : { bareIdle }),
      bareConnected,
      loaded,
      loadDone,
      uptimeBefore,
      uptimeAfter,
      leftovers,
      pids: [...fleet.pids],
    };
  } finally {
    await fleet.stop();
    fleet.killAll();
    release();
  }
}
