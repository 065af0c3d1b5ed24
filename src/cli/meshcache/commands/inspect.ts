/** `meshcache nodes` and `meshcache stats [--watch]`: what the members host and how their caches do. */
import type { CacheStats } from '../../../cache/operations/stats.js';
import type { MemberInfo, MemberStats, Operator } from '../operator.js';
import { duration, ms, OperationError, type Output, paint, pct, shortPeer, table } from '../output.js';

/** What `nodes --json` prints of one member. */
export interface NodeRow {
  peerId: string;
  services: string[];
  cached: string[];
  backends?: string[];
  uptimeMs?: number;
  runtime?: string;
  addresses?: string[];
  error?: { code: string; message: string };
}

function backendsOf(info: MemberInfo, stats: MemberStats | undefined): string[] | undefined {
  const declared = info.info?.backends;
  if (Array.isArray(declared)) return declared.map(String);
  if (declared !== null && typeof declared === 'object') return Object.keys(declared);
  return stats?.stats === undefined ? undefined : Object.keys(stats.stats.backends);
}

export async function nodes(op: Operator, o: Output): Promise<void> {
  const [infos, stats] = await Promise.all([op.infos(), op.stats()]);
  const rows: NodeRow[] = infos.map((i) => {
    const backends = backendsOf(
      i,
      stats.find((s) => s.peerId === i.peerId),
    );
    return {
      peerId: i.peerId,
      services: i.services,
      cached: i.cached,
      ...(backends === undefined ? {} : { backends }),
      ...(typeof i.info?.uptimeMs === 'number' ? { uptimeMs: i.info.uptimeMs } : {}),
      ...(typeof i.info?.runtime === 'string' ? { runtime: i.info.runtime } : {}),
      ...(Array.isArray(i.info?.addresses) ? { addresses: i.info.addresses.map(String) } : {}),
      ...(i.error === undefined ? {} : { error: i.error }),
    };
  });
  if (o.json) o.out(JSON.stringify(rows));
  else {
    o.out(
      table(
        ['PEER', 'SERVICES', 'CACHED', 'BACKENDS', 'UPTIME', 'RUNTIME'],
        rows.map((r) => [
          r.peerId,
          r.services.join(',') || '-',
          r.cached.join(',') || '-',
          r.backends?.join(',') ?? '?',
          r.uptimeMs === undefined ? '?' : duration(r.uptimeMs),
          r.error === undefined ? (r.runtime ?? '') : paint(o, 'red', r.error.code),
        ]),
        o,
      ),
    );
  }
  const failed = rows.find((r) => r.error !== undefined);
  if (failed !== undefined)
    throw new OperationError(
      failed.error!.code,
      `${failed.error!.code}: member ${failed.peerId} did not describe itself: ${failed.error!.message}`,
    );
}

/** Keeps the actions of one service (`--service`). */
function only(stats: CacheStats, service: string | undefined): CacheStats {
  if (service === undefined) return stats;
  const actions = Object.fromEntries(
    Object.entries(stats.actions).filter(([p]) => p.startsWith(`${service}/`)),
  );
  const services = Object.fromEntries(Object.entries(stats.services).filter(([s]) => s === service));
  return { ...stats, actions, services };
}

export interface StatsDocument {
  nodes: Array<{
    peerId: string;
    services: string[];
    stats?: CacheStats;
    error?: { code: string; message: string };
  }>;
}

export async function collect(op: Operator, service: string | undefined): Promise<StatsDocument> {
  const members = await op.stats();
  return {
    nodes: members.map((m) => ({
      peerId: m.peerId,
      services: m.services,
      ...(m.stats === undefined ? {} : { stats: only(m.stats, service) }),
      ...(m.error === undefined ? {} : { error: m.error }),
    })),
  };
}

export function render(doc: StatsDocument, o: Output): string {
  const rows: string[][] = [];
  for (const n of doc.nodes) {
    if (n.stats === undefined) {
      rows.push([shortPeer(n.peerId), paint(o, 'red', n.error?.code ?? 'ERROR'), '', '', '', '', '', '']);
      continue;
    }
    const rate = (x: number, lookups: number) =>
      lookups === 0 ? '-' : paint(o, x >= 0.8 ? 'green' : x >= 0.5 ? 'yellow' : 'red', pct(x));
    for (const [path, a] of Object.entries(n.stats.actions)) {
      rows.push([
        shortPeer(n.peerId),
        path,
        rate(a.hitRate, a.hits + a.misses),
        String(a.hits),
        String(a.misses),
        ms(a.p50LatencyMs),
        ms(a.p99LatencyMs),
        ms(a.maxLatencyMs),
      ]);
    }
    const t = n.stats;
    rows.push([
      shortPeer(n.peerId),
      paint(o, 'dim', '(node)'),
      rate(t.hitRate, t.hits + t.misses),
      String(t.hits),
      String(t.misses),
      ms(t.p50LatencyMs),
      ms(t.p99LatencyMs),
      ms(t.maxLatencyMs),
    ]);
  }
  return table(['NODE', 'ACTION', 'HIT RATE', 'HITS', 'MISSES', 'P50 MS', 'P99 MS', 'MAX MS'], rows, o);
}

function failed(doc: StatsDocument): OperationError | undefined {
  const bad = doc.nodes.find((n) => n.error !== undefined);
  if (bad === undefined) return undefined;
  return new OperationError(
    bad.error!.code,
    `${bad.error!.code}: member ${bad.peerId} did not give its stats: ${bad.error!.message}`,
  );
}

export async function stats(op: Operator, o: Output, service: string | undefined): Promise<void> {
  const doc = await collect(op, service);
  o.out(o.json ? JSON.stringify(doc) : render(doc, o));
  const err = failed(doc);
  if (err !== undefined) throw err;
}

/** Prints the stats every `intervalMs` until SIGINT or SIGTERM; then resolves (exit 0). */
export async function watch(
  op: Operator,
  o: Output,
  service: string | undefined,
  intervalMs: number,
): Promise<void> {
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (;;) {
      const doc = await Promise.race([collect(op, service), stopped]);
      if (doc === undefined) return;
      if (o.json) o.out(JSON.stringify({ at: new Date().toISOString(), ...doc }));
      else {
        const clear = process.stdout.isTTY ? '\u001b[2J\u001b[H' : '';
        o.out(
          `${clear}${paint(o, 'dim', `${new Date().toISOString()}  (Ctrl-C to stop)`)}\n${render(doc, o)}\n`,
        );
      }
      let timer: NodeJS.Timeout | undefined;
      const slept = await Promise.race([
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), intervalMs);
        }),
        stopped.then(() => false),
      ]);
      clearTimeout(timer);
      if (!slept) return;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
