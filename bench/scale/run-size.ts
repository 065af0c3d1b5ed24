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
import { HOST_SCRIPT, type Member, membersOf, nodeNames } from './members.js';
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
  /** Nodes per OS process at a size (1: a process each; more where the machine runs out). */
  readonly perProcess: (nodes: number) => number;
  /** Flags for every meshcache node (e.g. `--max-staleness-ms 5000`). */
  readonly nodeArgs?: readonly string[];
  readonly progress: (msg: string) => void;
}

export interface ScaleResult {
  readonly nodes: number;
  /** OS processes the meshcache nodes ran in (N when each had its own). */
  readonly processes: number;
  /** OS processes the bare libp2p nodes ran in. */
  readonly bareProcesses: number;
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

/**
 * Polls every node's `count` (members, peers) until all reach `want` or
 * `timeoutMs` passed: when it happened (performance.now(); NaN: never) and the
 * last counts.
 */
export async function waitForAll(
  nodes: Member[],
  count: (m: Member) => Promise<number>,
  want: number,
  timeoutMs: number,
  /** Told how far the nodes got every `everyMs` while they are not all there. */
  report?: (counts: Summary, elapsedMs: number) => void,
  everyMs = 10_000,
): Promise<{ at: number; counts: Summary }> {
  const start = performance.now();
  const deadline = start + timeoutMs;
  let reported = start;
  for (;;) {
    const counts = await Promise.all(nodes.map(count));
    if (counts.every((c) => c >= want)) return { at: performance.now(), counts: summarize(counts) };
    const now = performance.now();
    if (now > deadline) return { at: Number.NaN, counts: summarize(counts) };
    if (report !== undefined && now - reported >= everyMs) {
      reported = now;
      report(summarize(counts), now - start);
    }
    await sleep(250);
  }
}

/** A meshcache node's members; a bare libp2p node's peers. */
export const meshMembers = async (m: Member) => (await meshReport(m)).members ?? 0;
export const barePeers = async (m: Member) => ((await m.call({ cmd: 'info' })).peers as string[]).length;

export async function runScale(n: number, o: ScaleOptions): Promise<ScaleResult> {
  const fleet = new Fleet();
  const release = killOnExit(fleet);
  const uptimeBefore = uptime();
  const network = `scale-${n}-${process.pid}`;
  try {
    const t0 = performance.now();
    const perProcess = Math.max(1, Math.min(n, o.perProcess(n)));
    const hosts = await spawnMesh(fleet, network, n, perProcess, o.concurrency, [...(o.nodeArgs ?? [])]);
    const mesh = hosts.flatMap(membersOf);
    const first = mesh[0] as Member;
    const spawnMs = performance.now() - t0;
    o.progress(`${n} nodes in ${hosts.length} processes up in ${(spawnMs / 1000).toFixed(1)} s`);
    const joined = await waitForAll(mesh, meshMembers, n - 1, o.joinTimeoutMs, (c, ms) =>
      o.progress(`members ${c.min}..${c.max} of ${n - 1} after ${(ms / 1000).toFixed(0)} s`),
    );
    const joinMs = joined.at - t0;
    const members = joined.counts;
    o.progress(
      Number.isNaN(joinMs)
        ? `membership not complete after ${o.joinTimeoutMs / 1000} s: ${members.min}..${members.max} of ${n - 1}`
        : `full membership in ${(joinMs / 1000).toFixed(1)} s`,
    );

    let bare: Member[] = [];
    let bareHosts: NodeProcess[] = [];
    let bareConnected = summarize([]);
    if (o.bare) {
      bareHosts = await spawnBare(fleet, network, n, perProcess, o.concurrency);
      bare = bareHosts.flatMap(membersOf);
      bareConnected = (await waitForAll(bare, barePeers, n - 1, o.joinTimeoutMs)).counts;
      o.progress(
        `${n} bare libp2p nodes in ${bareHosts.length} processes up, ${bareConnected.min}..${bareConnected.max} peers each`,
      );
    }

    await sleep(o.settleMs);
    o.progress(`idle window ${o.idleMs / 1000} s`);
    const [idle, bareIdle] = await Promise.all([
      measureWindow(mesh, meshReport, o.idleMs),
      bare.length > 0 ? measureWindow(bare, bareReport, o.idleMs) : Promise.resolve(undefined),
    ]);
    await fleet.stop(bareHosts);

    o.progress('latencies');
    const dht = await dhtLatencies(mesh, o.perWriter);
    const call = await callLatency(mesh[n - 1] as Member, 'echo/ping', o.calls);
    const reach = await invalidationReach(mesh, o.reachRounds);

    o.progress(`load window ${o.loadMs / 1000} s`);
    const loadKeys = Array.from({ length: 200 }, (_, i) => `cache:scale/load/k${i}`);
    // On a network that never formed the writes are kad-dht lookups that may outlast the wait: the
    // load still runs (its reads then miss), and the run goes on to report what it measured.
    await first
      .call({ cmd: 'time', op: 'set', keys: loadKeys }, 300_000)
      .catch((err: Error) => o.progress(`load keys not all written: ${err.message}`));
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
      processes: hosts.length,
      bareProcesses: bareHosts.length,
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

/**
 * Starts the `n` meshcache nodes: a process each (examples/dht-node.ts), or
 * `perProcess` to a process (bench/scale/node-host.ts). node-1 starts first and
 * everyone joins it; node-2 alone hosts `echo` (the remote call's target).
 */
export async function spawnMesh(
  fleet: Fleet,
  network: string,
  n: number,
  perProcess: number,
  concurrency: number,
  /** Flags for every node (examples/dht-node.ts's, which node-host.ts shares in part). */
  nodeArgs: string[] = [],
): Promise<NodeProcess[]> {
  if (perProcess === 1) {
    const first = await fleet.spawn({ network, name: 'node-1', near: false, built: true, args: nodeArgs });
    const rest = await fleet.spawnMany(n - 1, concurrency, (i) => ({
      network,
      name: `node-${i + 2}`,
      near: false,
      built: true,
      bootstrap: first.ready.addresses,
      readyTimeoutMs: 120_000,
      args: i === 0 ? [...nodeArgs, '--services', 'user,echo'] : nodeArgs,
    }));
    return [first, ...rest];
  }
  const names = nodeNames('node', 1, n);
  const groups = Array.from({ length: Math.ceil(n / perProcess) }, (_, i) =>
    names.slice(i * perProcess, (i + 1) * perProcess),
  );
  const host = (i: number, bootstrap?: string[]) => ({
    network,
    name: `host-${i + 1}`,
    script: HOST_SCRIPT,
    near: false,
    readyTimeoutMs: 300_000,
    args: [...nodeArgs, '--nodes', (groups[i] as string[]).join(','), '--echo', 'node-2'],
    ...(bootstrap === undefined ? {} : { bootstrap }),
  });
  const first = await fleet.spawn(host(0));
  const rest = await fleet.spawnMany(groups.length - 1, concurrency, (i, up) =>
    host(i + 1, bootstrapOf(first, up)),
  );
  return [first, ...rest];
}

/**
 * The bootstrap list of a process that holds several nodes: the network's first node
 * and the first node of one process already up, picked at random. A deployment lists
 * a few bootstrap peers; with one only, the 100th node to dial it in the same minute
 * waits behind the other 98 handshakes, bare libp2p's as much as meshcache's.
 */
function bootstrapOf(first: NodeProcess, up: readonly NodeProcess[]): string[] {
  const other = up[Math.floor(Math.random() * up.length)];
  return [...first.ready.addresses, ...(other?.ready.addresses ?? [])];
}

/** Starts `n` bare libp2p nodes, `perProcess` to a process (bench/bare-node.ts --count), all joining the first. */
export async function spawnBare(
  fleet: Fleet,
  network: string,
  n: number,
  perProcess: number,
  concurrency: number,
): Promise<NodeProcess[]> {
  const processes = Math.ceil(n / perProcess);
  // meshcache's discoveryIntervalMs: the same upkeep on both sides; the last process holds the rest.
  const args = (i: number) => [
    '--discovery-ms',
    '60000',
    '--count',
    String(i < processes - 1 ? perProcess : n - perProcess * (processes - 1)),
  ];
  const first = await fleet.spawn({ network, name: 'bare-1', script: BARE_NODE_SCRIPT, args: args(0) });
  const others = await fleet.spawnMany(processes - 1, concurrency, (i, up) => ({
    network,
    name: `bare-${i + 2}`,
    script: BARE_NODE_SCRIPT,
    bootstrap: perProcess > 1 ? bootstrapOf(first, up) : first.ready.addresses,
    readyTimeoutMs: 300_000,
    args: args(i + 1),
  }));
  return [first, ...others];
}
