/**
 * Per-node cost over a window of time: CPU (% of one core, from /proc
 * utime + stime), RSS, bytes read and written, libp2p connections and the
 * messages per second of each kind the node counted (network.stats()).
 */
import type { Member } from './members.js';
import { cpuPercent, type ProcSample, sample } from './procfs.js';

/** What a node process reports about itself: connections, and message counts when it has them. */
export interface NodeReport {
  readonly connections: number;
  readonly members?: number;
  readonly sent: Record<string, number>;
  readonly received: Record<string, number>;
}

/** A meshcache node (`scale-stats`). */
export async function meshReport(p: Member): Promise<NodeReport> {
  const r = await p.call({ cmd: 'scale-stats' }, 60_000);
  return {
    connections: Number(r.connections),
    members: Number(r.members),
    sent: r.sent as Record<string, number>,
    received: r.received as Record<string, number>,
  };
}

/** A bare libp2p node (`info`): connections only. */
export async function bareReport(p: Member): Promise<NodeReport> {
  const r = await p.call({ cmd: 'info' }, 60_000);
  return { connections: Number(r.connections), sent: {}, received: {} };
}

export interface WindowStats {
  readonly seconds: number;
  /** % of one core per node. */
  readonly cpu: Summary;
  readonly rssMiB: Summary;
  readonly connections: Summary;
  /** KiB/s read + written per node (every syscall: peers and the harness's pipe). */
  readonly ioKiBs: Summary;
  /** Messages per second per node, by kind, sent + received (mean over nodes). */
  readonly perKind: Record<string, number>;
  /** The same, sent and received apart. */
  readonly sentPerKind: Record<string, number>;
  readonly receivedPerKind: Record<string, number>;
}

export interface Summary {
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(xs: number[]): Summary {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return { mean: Number.NaN, min: Number.NaN, max: Number.NaN };
  return { mean: ok.reduce((a, b) => a + b, 0) / ok.length, min: Math.min(...ok), max: Math.max(...ok) };
}

type Reporter = (p: Member) => Promise<NodeReport>;

/**
 * Measures `procs` from now until `during` resolves (or `ms` passed, when no
 * `during` is given). Counts are read at both ends (two commands per node).
 */
export async function measureWindow(
  procs: Member[],
  report: Reporter,
  ms: number,
  during?: () => Promise<unknown>,
): Promise<WindowStats> {
  const pids = [...new Set(procs.map((p) => p.pid))];
  const r0 = await Promise.all(procs.map(report));
  const s0 = new Map(pids.map((pid) => [pid, sample(pid)]));
  if (during === undefined) await new Promise((r) => setTimeout(r, ms));
  else await during();
  const s1 = new Map(pids.map((pid) => [pid, sample(pid)]));
  const r1 = await Promise.all(procs.map(report));
  return diff(
    procs.map((p) => s0.get(p.pid)),
    procs.map((p) => s1.get(p.pid)),
    procs.map((p) => p.share),
    r0,
    r1,
  );
}

function diff(
  s0: Array<ProcSample | undefined>,
  s1: Array<ProcSample | undefined>,
  /** Nodes in each one's process: a process's CPU, RSS and I/O are split evenly among them. */
  shares: number[],
  r0: NodeReport[],
  r1: NodeReport[],
): WindowStats {
  const cpu: number[] = [];
  const rss: number[] = [];
  const io: number[] = [];
  let seconds = 0;
  s0.forEach((a, i) => {
    const b = s1[i];
    if (a === undefined || b === undefined) return;
    const dt = (b.at - a.at) / 1000;
    seconds = Math.max(seconds, dt);
    const share = shares[i] ?? 1;
    cpu.push(cpuPercent(a, b) / share);
    rss.push(b.rssBytes / 2 ** 20 / share);
    io.push((b.ioBytes - a.ioBytes) / 1024 / dt / share);
  });
  const rates = (pick: (r: NodeReport) => Record<string, number>) => {
    const out: Record<string, number> = {};
    r1.forEach((end, i) => {
      const start = pick(r0[i] as NodeReport);
      for (const [kind, n] of Object.entries(pick(end))) {
        const d = n - (start[kind] ?? 0);
        // One name per protocol whatever the network id, so sizes line up in one table.
        const k = kind.replace(/\/meshcache\/[^/]+\//, '/meshcache/<id>/');
        if (d > 0) out[k] = (out[k] ?? 0) + d / seconds / r1.length;
      }
    });
    return out;
  };
  const sentPerKind = rates((r) => r.sent);
  const receivedPerKind = rates((r) => r.received);
  const perKind: Record<string, number> = { ...sentPerKind };
  for (const [k, v] of Object.entries(receivedPerKind)) perKind[k] = (perKind[k] ?? 0) + v;
  return {
    seconds,
    cpu: summarize(cpu),
    rssMiB: summarize(rss),
    connections: summarize(r1.map((r) => r.connections)),
    ioKiBs: summarize(io),
    perKind,
    sentPerKind,
    receivedPerKind,
  };
}
