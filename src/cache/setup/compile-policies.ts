/**
 * Turns an action's resolved policy options into what the hit path uses:
 * the cluster single-flight lease settings and the compiled tags. Refuses at
 * start what its backend cannot do (CONFIG_INVALID), rather than weakening it.
 */
import type { Logger } from 'pino';
import { MeshError } from '../../errors.js';
import type { RequestContext } from '../../node/context.js';
import { type CacheBackend, hasLeases, hasTags, type SyncCacheBackend } from '../backends/backend.js';
import type { GuardedBackend } from '../backends/guard.js';
import { type ActionTags, localTagStore, recordKeys, validTag } from '../coherence/tag-records.js';
import { fillTemplate } from '../keys/template.js';
import { type ClusterCoalescing, DEFAULT_LEASE_MS } from '../read/cluster-flight.js';
import type { Policies, TagFunction } from './resolve.js';

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

/**
 * Compiles an action's tag option into `(params, result, ctx) => record keys`;
 * undefined means "do not cache this call" (a template field is missing, the
 * function threw or returned something else than strings), with a warning.
 */
export function compileTags(
  spec: readonly string[] | TagFunction,
  base: string,
  service: string,
  path: string,
  logger: Logger,
): (params: unknown, result: unknown, ctx: RequestContext) => string[] | undefined {
  const skip = (reason: string, extra: Record<string, unknown>) => {
    logger.warn({ path, ...extra }, `cache tags: ${reason}; this result is not cached`);
    return undefined;
  };
  if (typeof spec === 'function') {
    return (params, result, ctx) => {
      let tags: unknown;
      try {
        tags = spec(params, result, ctx);
      } catch (err) {
        return skip('the tags function threw', { err });
      }
      if (!Array.isArray(tags) || !tags.every(validTag))
        return skip('the tags function must return an array of non-empty strings', { tags });
      return recordKeys(base, service, [...new Set(tags)]);
    };
  }
  return (params) => {
    const tags: string[] = [];
    for (const template of spec) {
      const filled = fillTemplate(template, params);
      if ('missing' in filled)
        return skip('a tag template names a missing param', { template, field: filled.missing });
      if (!validTag(filled.key)) return skip('a tag is empty or holds control characters', { template });
      tags.push(filled.key);
    }
    return recordKeys(base, service, [...new Set(tags)]);
  };
}
