/**
 * The dashboard's memory: samples every member's `$node/stats` (and now and
 * then its `$node/info`) at a fixed interval and keeps, per member and
 * action, the last minutes as points (hit rate and requests per second of the
 * interval, latency as the node reports it). The nodes keep no log of
 * invalidations, so the stream shown is derived from their counters (near
 * copies invalidated, notices received, gaps, flushes, evictions) plus the
 * management operations run from the page itself.
 */
import type { CacheStats } from '../../../cache/operations/stats.js';
import type { MemberInfo, Operator } from '../operator.js';

/** [epoch ms, hit rate of the interval (null: no lookups), requests/s, mean ms, max ms] */
export type Point = [number, number | null, number, number, number];

export interface ActionView {
  peerId: string;
  path: string;
  hits: number;
  misses: number;
  hitRate: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  evictions: number;
  series: Point[];
}

export interface DashboardEvent {
  t: number;
  peerId?: string;
  kind: string;
  text: string;
}

export interface MemberView {
  peerId: string;
  services: string[];
  cached: string[];
  uptimeMs?: number;
  runtime?: string;
  near?: CacheStats['near'];
  backends?: CacheStats['backends'];
  totals?: { hits: number; misses: number; hitRate: number };
  error?: { code: string; message: string };
}

export interface DashboardState {
  network: string;
  operator: string;
  intervalMs: number;
  sampledAt: number;
  members: MemberView[];
  actions: ActionView[];
  events: DashboardEvent[];
}

const MAX_EVENTS = 200;

export class Sampler {
  private readonly series = new Map<string, Point[]>();
  private readonly last = new Map<string, { t: number; stats: CacheStats }>();
  private infos = new Map<string, MemberInfo>();
  private members: MemberView[] = [];
  private actions: ActionView[] = [];
  private readonly events: DashboardEvent[] = [];
  private sampledAt = 0;
  private ticks = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Points kept per series: the last ten minutes at the interval. */
  private readonly keep: number;

  constructor(
    private readonly op: Operator,
    readonly intervalMs: number,
  ) {
    this.keep = Math.max(30, Math.ceil(600_000 / intervalMs));
  }

  start(): Promise<void> {
    const loop = async () => {
      this.running = this.sample().catch((err) =>
        this.note('error', `sampling failed: ${(err as Error).message}`),
      );
      await this.running;
      this.timer = setTimeout(loop, this.intervalMs);
    };
    return loop();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  note(kind: string, text: string, peerId?: string): void {
    this.events.push({ t: Date.now(), kind, text, ...(peerId === undefined ? {} : { peerId }) });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }

  state(): DashboardState {
    return {
      network: this.op.network.networkId,
      operator: this.op.peerId,
      intervalMs: this.intervalMs,
      sampledAt: this.sampledAt,
      members: this.members,
      actions: this.actions,
      events: [...this.events].reverse(),
    };
  }

  private async sample(): Promise<void> {
    const peers = this.op.members();
    const known = peers.every((p) => this.infos.has(p));
    if (!known || this.ticks++ % 5 === 0) {
      const infos = await this.op.infos();
      for (const p of peers) if (!this.infos.has(p)) this.note('member', 'joined (or first seen)', p);
      for (const p of this.infos.keys()) if (!peers.includes(p)) this.note('member', 'left', p);
      this.infos = new Map(infos.map((i) => [i.peerId, i]));
    }
    const stats = await this.op.stats();
    const now = Date.now();
    const members: MemberView[] = [];
    const actions: ActionView[] = [];
    for (const m of stats) {
      const info = this.infos.get(m.peerId);
      const { services, cached } = this.op.servicesOf(m.peerId);
      const view: MemberView = { peerId: m.peerId, services, cached };
      if (typeof info?.info?.uptimeMs === 'number') view.uptimeMs = info.info.uptimeMs;
      if (typeof info?.info?.runtime === 'string') view.runtime = info.info.runtime;
      const error = m.error ?? info?.error;
      if (error !== undefined) view.error = error;
      if (m.stats !== undefined) {
        view.near = m.stats.near;
        view.backends = m.stats.backends;
        view.totals = { hits: m.stats.hits, misses: m.stats.misses, hitRate: m.stats.hitRate };
        actions.push(...this.record(m.peerId, m.stats, now));
      }
      members.push(view);
    }
    this.members = members;
    this.actions = actions.sort((a, b) => a.path.localeCompare(b.path) || a.peerId.localeCompare(b.peerId));
    this.sampledAt = now;
  }

  /** Adds this sample's points and derives the events from the counters' growth. */
  private record(peerId: string, stats: CacheStats, now: number): ActionView[] {
    const before = this.last.get(peerId);
    this.last.set(peerId, { t: now, stats });
    const out: ActionView[] = [];
    for (const [path, a] of Object.entries(stats.actions)) {
      const id = `${peerId} ${path}`;
      const prev = before?.stats.actions[path];
      const lookups = prev === undefined ? 0 : a.hits + a.misses - prev.hits - prev.misses;
      const seconds = before === undefined ? 0 : (now - before.t) / 1000;
      const point: Point = [
        now,
        lookups > 0 ? (a.hits - prev!.hits) / lookups : null,
        seconds > 0 ? Math.max(0, lookups) / seconds : 0,
        a.p50LatencyMs,
        a.p99LatencyMs,
      ];
      const series = this.series.get(id) ?? [];
      series.push(point);
      if (series.length > this.keep) series.splice(0, series.length - this.keep);
      this.series.set(id, series);
      if (prev !== undefined && a.evictions > prev.evictions)
        this.note(
          'eviction',
          `${path}: ${a.evictions - prev.evictions} entr(ies) evicted or expired`,
          peerId,
        );
      out.push({ peerId, path, ...pick(a), series });
    }
    const n = stats.near;
    const p = before?.stats.near;
    if (n !== undefined && p !== undefined) {
      const grew = (field: 'invalidations' | 'received' | 'gaps' | 'flushes') => n[field] - p[field];
      if (grew('invalidations') > 0)
        this.note('invalidation', `${grew('invalidations')} near cop(ies) invalidated`, peerId);
      if (grew('received') > 0)
        this.note('notice', `${grew('received')} invalidation notice(s) received`, peerId);
      if (grew('gaps') > 0)
        this.note('gap', `${grew('gaps')} gap(s) in the notices: near tier flushed`, peerId);
      if (grew('flushes') > 0) this.note('flush', `near tier flushed ${grew('flushes')} time(s)`, peerId);
    }
    for (const [name, b] of Object.entries(stats.backends)) {
      const was = before?.stats.backends[name];
      if (was !== undefined && was.available !== b.available)
        this.note(
          'backend',
          `backend '${name}' ${b.available ? 'available again' : 'skipped (breaker open)'}`,
          peerId,
        );
    }
    return out;
  }
}

function pick(a: CacheStats['actions'][string]) {
  return {
    hits: a.hits,
    misses: a.misses,
    hitRate: a.hitRate,
    avgLatencyMs: a.avgLatencyMs,
    maxLatencyMs: a.maxLatencyMs,
    p50LatencyMs: a.p50LatencyMs,
    p99LatencyMs: a.p99LatencyMs,
    evictions: a.evictions,
  };
}
