/**
 * Cache counters per action, summed per service and per node on demand. The
 * hit path only increments plain number fields of an object it holds already;
 * aggregation costs nothing until someone asks. Prometheus export: prometheus.ts.
 */

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
  /** Calls answered with a stale value because the handler failed or passed the deadline (`grace`). */
  graceHits: number;
  /** Calls answered with a stale value because the handler was slower than `softTimeoutMs`. */
  softTimeouts: number;
  /** Entries found but ignored because one of their tags was invalidated after they were computed. */
  tagMisses: number;
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
  graceHits = 0;
  softTimeouts = 0;
  tagMisses = 0;
  latencyCount = 0;
  latencySumMs = 0;
  latencyMaxMs = 0;
  /** Counts lookups: one in 16 is timed (`startSample`). */
  private tick = 0;

  constructor(
    readonly service: string,
    readonly action: string,
  ) {}

  /** `performance.now()` for one lookup in 16 (time it, then `recordLatency`), else 0. */
  startSample(): number {
    return (this.tick++ & 15) === 0 ? performance.now() : 0;
  }

  recordLatency(ms: number): void {
    this.latencyCount++;
    this.latencySumMs += ms;
    if (ms > this.latencyMaxMs) this.latencyMaxMs = ms;
  }
}

export const FIELDS = [
  'hits',
  'misses',
  'stores',
  'errors',
  'evictions',
  'staleHits',
  'coalesced',
  'bypassed',
  'graceHits',
  'softTimeouts',
  'tagMisses',
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
    graceHits: 0,
    softTimeouts: 0,
    tagMisses: 0,
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
