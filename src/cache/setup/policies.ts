/** The policy settings of one action, from the values resolve.ts picked per level. */
import type { RequestContext } from '../../node/context.js';

export type TtlFunction = (result: unknown, params: any, ctx: RequestContext) => number;
export type TagFunction = (params: any, result: unknown, ctx: RequestContext) => readonly string[];

export interface Policies {
  /** Adaptive TTL: decides each entry's TTL from its value (code only). */
  readonly ttlOf: TtlFunction | undefined;
  /** Seconds an expired entry is kept past ttl + staleTtl to answer when the handler fails (0: off). */
  readonly grace: number;
  /** ms after which a caller with a stale value at hand gets it (0: off). */
  readonly softTimeoutMs: number;
  /** Tag templates (`user:{id}`) or a function; undefined: untagged. */
  readonly tags: readonly string[] | TagFunction | undefined;
  readonly coalesce: 'node' | 'cluster';
}

export function resolvePolicies(
  ttl: unknown,
  grace: number | undefined,
  softTimeoutMs: number | undefined,
  tags: unknown,
  coalesce: 'node' | 'cluster' | undefined,
): Policies {
  return {
    ttlOf: typeof ttl === 'function' ? (ttl as TtlFunction) : undefined,
    grace: grace ?? 0,
    softTimeoutMs: softTimeoutMs ?? 0,
    tags:
      typeof tags === 'function'
        ? (tags as TagFunction)
        : Array.isArray(tags) && tags.length > 0
          ? (tags as string[])
          : undefined,
    coalesce: coalesce ?? 'node',
  };
}
