/**
 * Cache counters per action, summed per service and per node on demand, and
 * exported as Prometheus text through prom-client. The hit path only
 * increments plain number fields of an object it holds already; aggregation
 * and export cost nothing until someone asks.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Counters of one action (or a sum of them). */
export interface CacheCounters {
  hits: number;
  misses: number;
  stores: number;
  errors: number;
  evictions: number;
  /** Hits served from a stale entry while it was refreshed (stale-while-revalidate). */
  staleHits: number;
  /** Misses that joined a call already running for the same key instead of calling the handler. */
  coalesced: number;
  /** Calls that skipped the cache: per-request bypass, condition false, or a backend in cool-down. */
  bypassed: number;
}

/** Counters plus derived figures, as returned by `node.cache.stats()`. */
export interface CacheStatsView extends CacheCounters {
  /** hits / (hits + misses), 0 when there were no lookups. */
  hitRate: number;
  /** Mean latency of sampled cache operations, in ms. */
  avgLatencyMs: number;
  /** Largest sampled latency, in ms. */
  maxLatencyMs: number;
}

/** Mutable counters of one action. */
export class ActionStats implements CacheCounters {
  hits = 0;
  misses = 0;
  stores = 0;
  errors = 0;
  evictions = 0;
  staleHits = 0;
  coalesced = 0;
  bypassed = 0;
  latencyCount = 0;
  latencySumMs = 0;
  latencyMaxMs = 0;
  /** Sampling tick for synchronous operations. */
  tick = 0;

  constructor(
    readonly service: string,
    readonly action: string,
  ) {}

  recordLatency(ms: number): void {
    this.latencyCount++;
    this.latencySumMs += ms;
    if (ms > this.latencyMaxMs) this.latencyMaxMs = ms;
  }
}

const FIELDS = [
  'hits',
  'misses',
  'stores',
  'errors',
  'evictions',
  'staleHits',
  'coalesced',
  'bypassed',
] as const;

/** Sums counters into a view. */
export function summarize(list: Iterable<ActionStats>): CacheStatsView {
  const out = {
    hits: 0,
    misses: 0,
    stores: 0,
    errors: 0,
    evictions: 0,
    staleHits: 0,
    coalesced: 0,
    bypassed: 0,
  };
  let count = 0;
  let sum = 0;
  let max = 0;
  for (const s of list) {
    for (const f of FIELDS) out[f] += s[f];
    count += s.latencyCount;
    sum += s.latencySumMs;
    if (s.latencyMaxMs > max) max = s.latencyMaxMs;
  }
  const lookups = out.hits + out.misses;
  return {
    ...out,
    hitRate: lookups === 0 ? 0 : out.hits / lookups,
    avgLatencyMs: count === 0 ? 0 : sum / count,
    maxLatencyMs: max,
  };
}

/** Builds a prom-client registry whose metrics read the live counters at scrape time. */
export function createPrometheusRegistry(
  actions: () => Iterable<ActionStats>,
  backends: () => Iterable<{
    name: string;
    errors: number;
    available: boolean;
    entries?: number;
    bytes?: number;
  }>,
): { registry: Registry; latency: Histogram<'backend' | 'op'> } {
  const registry = new Registry();
  const perAction = (name: string, help: string, field: (typeof FIELDS)[number]) =>
    new Counter({
      name,
      help,
      labelNames: ['service', 'action'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of actions()) this.inc({ service: s.service, action: s.action }, s[field]);
      },
    });
  perAction('meshcache_cache_hits_total', 'Cache hits', 'hits');
  perAction('meshcache_cache_misses_total', 'Cache misses (handler called)', 'misses');
  perAction('meshcache_cache_stores_total', 'Results stored in the cache', 'stores');
  perAction('meshcache_cache_errors_total', 'Cache backend errors (request served by the handler)', 'errors');
  perAction('meshcache_cache_evictions_total', 'Entries evicted (capacity, bytes or expiry)', 'evictions');
  perAction('meshcache_cache_stale_hits_total', 'Stale entries served while refreshing', 'staleHits');
  perAction(
    'meshcache_cache_coalesced_total',
    'Misses that joined a running call for the same key',
    'coalesced',
  );
  perAction('meshcache_cache_bypassed_total', 'Calls that skipped the cache', 'bypassed');
  new Gauge({
    name: 'meshcache_cache_hit_ratio',
    help: 'hits / (hits + misses) per action',
    labelNames: ['service', 'action'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of actions()) {
        const n = s.hits + s.misses;
        this.set({ service: s.service, action: s.action }, n === 0 ? 0 : s.hits / n);
      }
    },
  });
  new Gauge({
    name: 'meshcache_backend_available',
    help: '1 when the backend is used, 0 while it is skipped after repeated failures',
    labelNames: ['backend'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of backends()) this.set({ backend: b.name }, b.available ? 1 : 0);
    },
  });
  new Gauge({
    name: 'meshcache_backend_entries',
    help: 'Entries held by the backend (memory backend)',
    labelNames: ['backend'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of backends()) if (b.entries !== undefined) this.set({ backend: b.name }, b.entries);
    },
  });
  const latency = new Histogram({
    name: 'meshcache_cache_operation_seconds',
    help: 'Latency of cache backend operations (gets are sampled 1 in 16, starting with the first)',
    labelNames: ['backend', 'op'] as const,
    buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
    registers: [registry],
  });
  return { registry, latency };
}
