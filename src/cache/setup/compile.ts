/**
 * Compiles one cached action at start: from its resolved settings
 * (resolve.ts), the state its lookup runs on (`ActionCache`): backend and
 * guard, key builders, policies, near tier, counters.
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../../node/context.js';
import type { ActionEntry } from '../../node/registry.js';
import { type CacheBackend, isIndexed, isSynchronous } from '../backends/backend.js';
import type { GuardedBackend } from '../backends/guard.js';
import type { NearTiers } from '../coherence/near-tiers.js';
import { compileFastKey, compileKeyBuilder } from '../keys/builder.js';
import { ActionStats } from '../operations/metrics.js';
import type { ActionCache, ServiceCache } from '../read/action-cache.js';
import { compilePolicies } from './compile-policies.js';
import type { ResolvedActionCache } from './resolve.js';

/** What compiling an action needs of its node. */
export interface CompileContext {
  readonly guard: GuardedBackend;
  readonly near: NearTiers;
  readonly maxKeyLength: number;
  /** `<prefix><networkId>/`. */
  readonly networkScope: string;
  readonly tagBase: string;
  readonly logger: Logger;
  /** A write that replaced a value: the other nodes drop their copies. */
  readonly replaced: (key: string) => void;
  /** A sampled latency of a backend operation. */
  readonly onLatency: (stats: ActionStats, op: string, ms: number) => void;
}

export async function compileAction(
  svc: ServiceCache,
  action: Pick<ActionEntry, 'service' | 'name' | 'path' | 'options'>,
  r: ResolvedActionCache,
  c: CompileContext,
): Promise<ActionCache> {
  const { guard, maxKeyLength } = c;
  const stats = new ActionStats(svc.name, action.name);
  const backend: CacheBackend = guard.backend;
  const sync = isSynchronous(backend) ? backend : undefined;
  const indexed = sync !== undefined && isIndexed(sync) ? sync : undefined;
  const keyOptions = { keys: r.keys, key: r.key as ((p: unknown, c: RequestContext) => string) | undefined };
  const fastKeyOf = indexed === undefined ? undefined : compileFastKey(keyOptions, maxKeyLength);
  const p = r.policies;
  const { cluster, tags } = compilePolicies(p, {
    path: action.path,
    service: svc.name,
    timeout: action.options.timeout,
    guard,
    sync,
    networkScope: c.networkScope,
    tagBase: c.tagBase,
    logger: c.logger,
  });
  return {
    // Tagged copies too: the tier indexes them by tag record and drops them on invalidation.
    near:
      sync === undefined
        ? await c.near.forAction(guard, r.near, compileFastKey(keyOptions, maxKeyLength))
        : undefined,
    replaced: c.replaced,
    policies: {
      grace: r.ttl > 0 || p.ttlOf ? p.grace : 0,
      softTimeoutMs: p.softTimeoutMs,
      ttlOf: p.ttlOf,
      tags,
      cluster,
    },
    service: svc,
    name: action.name,
    ttl: r.ttl,
    staleTtl: r.ttl > 0 || p.ttlOf !== undefined ? r.staleTtl : 0,
    results: r.results,
    guard,
    sync,
    indexed: fastKeyOf === undefined ? undefined : indexed,
    fastKeyOf,
    fastTable: fastKeyOf === undefined ? undefined : indexed?.table(),
    keyOf: compileKeyBuilder(action.name, keyOptions, maxKeyLength),
    condition: r.condition as ActionCache['condition'],
    stats,
    inflight: new Map(),
    logger: c.logger,
    onLatency: (op, ms) => c.onLatency(stats, op, ms),
  };
}
