/**
 * An action's cache declaration as data, announced to the other members with
 * what the node hosts (`$node/info`, the network's catalogs): enough for a
 * caller to tell whether it could build the action's key itself (keys from
 * params; no key, condition, TTL or tags function) and where entries live.
 */
import type { ResolvedActionCache } from './resolve.js';

/** What other members learn of one cached action. */
export interface CacheDeclaration {
  /** Every key of the service starts with it (`<prefix><network>/<service>/`). */
  readonly scope: string;
  readonly ttl: number;
  readonly staleTtl: number;
  /** Param names that make the key, in order; null: every param. */
  readonly keys: readonly string[] | null;
  readonly backend: string;
  readonly near: boolean;
  /** True when code decides something a caller cannot know: the key, the condition, the TTL or the tags. */
  readonly functions: boolean;
  readonly tags: readonly string[];
}

export function declarationOf(resolved: ResolvedActionCache, scope: string): CacheDeclaration {
  const p = resolved.policies;
  return {
    scope,
    ttl: resolved.ttl,
    staleTtl: resolved.staleTtl,
    keys: resolved.keys === undefined ? null : [...resolved.keys],
    backend: resolved.backend,
    near: resolved.near,
    functions:
      resolved.key !== undefined ||
      resolved.condition !== undefined ||
      p.ttlOf !== undefined ||
      typeof p.tags === 'function',
    tags: Array.isArray(p.tags) ? [...p.tags] : [],
  };
}
