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
  /** Median of the sampled latencies since start, in ms (within 12% of the true value; 0: none). */
  p50LatencyMs: number;
  /** 99th percentile of the sampled latencies since start, in ms (within 12%; 0: none). */
  p99LatencyMs: number;
}

/**
 * Latencies in log-spaced buckets, 1 µs to about a minute, 25% apart: percentiles
 * within about 12%, in constant memory, filled only by the sampled lookups.
 */
const BUCKETS = 80;
const STEP = Math.log(1.25);
const bucketOf = (ms: number) =>
  Math.min(BUCKETS - 1, Math.max(0, Math.floor(Math.log(ms * 1000 + 1) / STEP)));
/** The geometric middle of a bucket, in ms. */
const middleOf = (b: number) => (Math.exp((b + 0.5) * STEP) - 1) / 1000;

/** The `q` quantile of the histograms' sum (0 when empty). */
function quantile(histograms: readonly Uint32Array[], total: number, q: number): number {
  if (total === 0) return 0;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let b = 0; b < BUCKETS; b++) {
    for (const h of histograms) seen += h[b] as number;
    if (seen >= rank) return middleOf(b);
  }
  return middleOf(BUCKETS - 1);
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
  /** The sampled latencies, by bucket (allocated with the first sample). */
  latencyHistogram: Uint32Array | undefined;
  /** Counts lookups: one in 16 is timed (`startSample`, or written out on the memory hit path). */
  tick = 0;

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
    if (this.latencyHistogram === undefined) this.latencyHistogram = new Uint32Array(BUCKETS);
    this.latencyHistogram[bucketOf(ms)]++;
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
  const histograms: Uint32Array[] = [];
  for (const s of list) {
    for (const f of FIELDS) out[f] += s[f];
    count += s.latencyCount;
    sum += s.latencySumMs;
    if (s.latencyMaxMs > max) max = s.latencyMaxMs;
    if (s.latencyHistogram !== undefined) histograms.push(s.latencyHistogram);
  }
  const lookups = out.hits + out.misses;
  return {
    ...out,
    hitRate: lookups === 0 ? 0 : out.hits / lookups,
    avgLatencyMs: count === 0 ? 0 : sum / count,
    maxLatencyMs: max,
    p50LatencyMs: quantile(histograms, count, 0.5),
    p99LatencyMs: quantile(histograms, count, 0.99),
  };
}
