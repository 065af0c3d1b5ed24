/** `node.cache.stats()`: the per-action counters summed per service and for the node, and each backend's figures. */

import type { BackendView } from '../backends/pool.js';
import type { NearStatsView } from '../coherence/near-tiers.js';
import type { ServiceCache } from '../read/action-cache.js';
import { type ActionStats, type CacheStatsView, summarize } from './metrics.js';

/** `node.cache.stats()`: node totals, then per service and per action. */
export interface CacheStats extends CacheStatsView {
  services: Record<string, CacheStatsView & { actions: Record<string, CacheStatsView> }>;
  /** The same per-action figures, keyed by path (`user/get_user`). */
  actions: Record<string, CacheStatsView>;
  /** Per backend name; `kind` says what holds the entries (`memory` for `dht` on a node without a network). */
  backends: Record<
    string,
    { kind: string; errors: number; available: boolean; entries?: number; evictions?: number }
  >;
  /** The near tier: mode (`tracking`, `pubsub`, `bus`, `local`, `off`), entries, hits, flushes (src/cache/coherence/). */
  near?: NearStatsView;
}

/** Sums the counters of every cached action; `orphans` holds evictions of keys no action owns any more. */
export function collectStats(
  services: Iterable<ServiceCache>,
  backendViews: readonly BackendView[],
  orphans: ActionStats,
): CacheStats {
  const out: CacheStats['services'] = {};
  const byPath: CacheStats['actions'] = {};
  const all: ActionStats[] = [orphans];
  for (const svc of services) {
    const actions: Record<string, CacheStatsView> = {};
    for (const ac of svc.actions.values()) {
      actions[ac.name] = summarize([ac.stats]);
      byPath[`${svc.name}/${ac.name}`] = actions[ac.name];
      all.push(ac.stats);
    }
    out[svc.name] = { ...summarize([...svc.actions.values()].map((a) => a.stats)), actions };
  }
  const backends: CacheStats['backends'] = {};
  for (const b of backendViews) {
    backends[b.name] = {
      kind: b.kind ?? b.name,
      errors: b.errors,
      available: b.available,
      entries: b.entries,
      evictions: b.evictions,
    };
  }
  return { ...summarize(all), services: out, actions: byPath, backends };
}
