/** The compiled cache state of a service and of each of its cached actions, as the hit path uses it. */
import type { Logger } from 'pino';
import type { RequestContext } from '../../node/context.js';
import type { FastTable, IndexedCacheBackend, SyncCacheBackend } from '../backends/backend.js';
import type { GuardedBackend } from '../backends/guard.js';
import type { NearAction } from '../coherence/near-action.js';
import type { ActionTags } from '../coherence/tag-records.js';
import type { FastKey, KeyBuilder } from '../keys/builder.js';
import type { ActionStats } from '../operations/metrics.js';
import type { ResultMode } from '../setup/options.js';
import type { TtlFunction } from '../setup/resolve.js';
import type { ClusterCoalescing } from './cluster-flight.js';

/** The cache state of one service. */
export interface ServiceCache {
  readonly name: string;
  /** `<prefix><networkId>/<service>/`: every key of the service starts with it. */
  readonly scope: string;
  /** Bumped by every invalidation: a miss that started before one does not store its result. */
  generation: number;
  readonly actions: Map<string, ActionCache>;
  readonly guards: Set<GuardedBackend>;
}

/** The resolved cache settings and state of one action. */
export interface ActionCache {
  readonly service: ServiceCache;
  readonly name: string;
  readonly ttl: number;
  readonly staleTtl: number;
  readonly results: ResultMode;
  readonly guard: GuardedBackend;
  /** Set when the backend is synchronous (the promise-free path). */
  readonly sync: SyncCacheBackend | undefined;
  /** Set when the backend is synchronous, offers secondary indexes and the action has a fast key. */
  readonly indexed: IndexedCacheBackend | undefined;
  readonly keyOf: KeyBuilder;
  /** Indexed backends only: the raw key param value indexing the entry (see `FastTable`). */
  readonly fastKeyOf: FastKey | undefined;
  readonly fastTable: FastTable | undefined;
  readonly condition: ((params: any, ctx: RequestContext) => boolean) | undefined;
  readonly stats: ActionStats;
  readonly inflight: Map<string, Promise<Shared>>;
  readonly logger: Logger;
  readonly onLatency: (op: string, ms: number) => void;
  /** Set when a near tier sits in front of a remote backend (src/cache/coherence/near-tier.ts). */
  readonly near?: NearAction;
  /** Told of a write that replaced a value (a refresh): other nodes drop their copies. */
  readonly replaced?: (key: string) => void;
  /** Grace, soft timeout, adaptive TTL, tags, cluster single flight. */
  readonly policies: ActionPolicies;
}

/** The policies of one action, as the interceptor uses them. */
export interface ActionPolicies {
  /** Seconds an expired entry is kept past ttl + staleTtl to answer when the handler fails (0: off). */
  readonly grace: number;
  readonly softTimeoutMs: number;
  /** Adaptive TTL; when set, `ActionCache.ttl` is unused. */
  readonly ttlOf: TtlFunction | undefined;
  /** Set for a tagged action. */
  readonly tags: ActionTags | undefined;
  /** Set for `coalesce: 'cluster'` on a backend with leases. */
  readonly cluster: ClusterCoalescing | undefined;
}

/** A result as shared between the callers of one miss. */
export interface Shared {
  readonly value: unknown;
  readonly plain: boolean;
}
