/**
 * Prometheus export of the cache counters through prom-client. prom-client is
 * loaded only when someone asks for metrics (`node.cache.registry` or
 * `metrics()`): its import costs ~80 ms of start-up that most nodes never use.
 * Metrics read the live counters at scrape time; the latency histogram counts
 * from the moment the registry exists.
 */
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { Histogram, Registry } from 'prom-client';
import type { ActionStats, FIELDS } from './metrics.js';

/** What the registry reads about each backend at scrape time. */
export interface BackendView {
  name: string;
  errors: number;
  available: boolean;
  /** What holds the entries: `memory` for a `dht` backend on a node without a network. */
  kind?: string;
  entries?: number;
  evictions?: number;
}

/** Builds a prom-client registry whose metrics read the live counters at scrape time. */
export function createPrometheusRegistry(
  actions: () => Iterable<ActionStats>,
  backends: () => Iterable<BackendView>,
): { registry: Registry; latency: Histogram<'backend' | 'op'> } {
  const { Counter, Gauge, Histogram, Registry } = createRequire(import.meta.url)(
    'prom-client',
  ) as typeof PromClient;
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
  perAction(
    'meshcache_cache_grace_hits_total',
    'Stale values served because the handler failed or timed out (grace)',
    'graceHits',
  );
  perAction(
    'meshcache_cache_soft_timeouts_total',
    'Stale values served because the handler was slower than softTimeoutMs',
    'softTimeouts',
  );
  perAction(
    'meshcache_cache_tag_misses_total',
    'Entries ignored because one of their tags was invalidated',
    'tagMisses',
  );
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
