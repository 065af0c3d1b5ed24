/**
 * Turns an action's resolved policy options into what the hit path uses:
 * the cluster single-flight lease settings and the tag compiler. Refuses at
 * start what its backend cannot do (CONFIG_INVALID), rather than weakening it.
 */
import type { Logger } from 'pino';
import { MeshError } from '../../errors.js';
import { type CacheBackend, hasLeases, hasTags, type SyncCacheBackend } from '../backends/backend.js';
import type { GuardedBackend } from '../backends/guard.js';
import { type ActionTags, localTagStore } from '../coherence/tag-records.js';
import { type ClusterCoalescing, DEFAULT_LEASE_MS } from '../read/cluster-flight.js';
import { compileTags } from './compile-tags.js';
import type { Policies } from './policies.js';

/** What the compilation needs to know of the action and its node. */
export interface PolicyContext {
  readonly path: string;
  readonly service: string;
  /** The action's declared timeout (the lease lasts that long), if any. */
  readonly timeout: unknown;
  readonly guard: GuardedBackend;
  /** Set when the backend is synchronous (in-process). */
  readonly sync: SyncCacheBackend | undefined;
  /** `<prefix><networkId>/`. */
  readonly networkScope: string;
  readonly tagBase: string;
  readonly logger: Logger;
}

export function compilePolicies(
  p: Policies,
  c: PolicyContext,
): { cluster: ClusterCoalescing | undefined; tags: ActionTags | undefined } {
  const backend: CacheBackend = c.guard.backend;
  let cluster: ClusterCoalescing | undefined;
  // A synchronous backend is in-process: 'node' is already 'cluster' there.
  if (p.coalesce === 'cluster' && c.sync === undefined) {
    if (!hasLeases(backend)) {
      throw new MeshError(
        'CONFIG_INVALID',
        `${c.path}: coalesce 'cluster' needs a backend with leases (redis, dht); '${c.guard.name}' has none`,
        { field: 'coalesce', path: c.path, backend: c.guard.name },
      );
    }
    cluster = {
      backend,
      leaseBase: `${c.networkScope}$lease/`,
      networkScopeLength: c.networkScope.length,
      leaseMs: typeof c.timeout === 'number' && c.timeout > 0 ? c.timeout : DEFAULT_LEASE_MS,
    };
  }
  let tags: ActionTags | undefined;
  if (p.tags !== undefined) {
    if (c.sync === undefined && !hasTags(backend)) {
      throw new MeshError(
        'CONFIG_INVALID',
        `${c.path}: backend '${c.guard.name}' cannot hold tags (it has no getTagged/setTagged/invalidateTags capability; see docs/tags.md)`,
        { field: 'tags', path: c.path, backend: c.guard.name },
      );
    }
    tags = {
      of: compileTags(p.tags, c.tagBase, c.service, c.path, c.logger),
      local: c.sync === undefined ? undefined : localTagStore(c.sync),
    };
  }
  return { cluster, tags };
}
