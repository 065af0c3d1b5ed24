/**
 * Invalidation of a service's entries: clear, delete by action key, revoke by
 * glob, and the event rules that do those when an event arrives. Each one
 * first bumps the service's generation (a miss already running does not store
 * its now stale result), then asks every backend the service uses, each
 * within the management bound (`cache.failure.managementTimeoutMs`).
 */
import type { Logger } from 'pino';
import { MeshError } from '../errors.js';
import type { RequestContext } from '../node/context.js';
import type { CacheBackend } from './backends/backend.js';
import { fillTemplate } from './event-rules.js';
import { compileGlob, type Glob, hasWildcard } from './glob.js';
import type { GuardedBackend } from './guard.js';
import type { ServiceCache } from './interceptor.js';
import { keyForms } from './key-forms.js';
import { hashKey } from './keys.js';

/** What invalidation needs from the cache. */
export interface InvalidationContext {
  readonly logger: Logger;
  readonly maxKeyLength: number;
  readonly managementTimeoutMs: number;
  /** The service's cache state; throws NOT_FOUND when it has no cached actions. */
  service(name: string): ServiceCache;
  /** Told before the backends are asked and once they answered (near tiers, other nodes: src/cache/near/). */
  readonly observer?: InvalidationObserver;
}

/** One invalidation of a service's entries; keys are action keys (relative to the service's scope). */
export type Change =
  | { readonly op: 'delete'; readonly keys: readonly string[] }
  | { readonly op: 'clear' }
  | { readonly op: 'revoke'; readonly pattern: string; readonly glob: Glob };

export interface InvalidationObserver {
  /** The invalidation starts (this node's near copies go at once). */
  begin(svc: ServiceCache, change: Change): void;
  /** The backends answered: near copies filled meanwhile go too, and the other nodes are told. */
  end(svc: ServiceCache, change: Change): void;
}

function withTimeout<T>(pending: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // Not unref'd: the caller awaits this bound.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
}

/** Revokes by listing keys and deleting the matches, for backends without their own revoke. */
async function revokeByListing(
  b: CacheBackend,
  guard: GuardedBackend,
  scope: string,
  glob: Glob,
): Promise<number> {
  if (typeof b.keys !== 'function') {
    throw new MeshError(
      'BACKEND_ERROR',
      `cache backend '${guard.name}' cannot list keys, so it cannot revoke by pattern`,
      {
        backend: guard.name,
      },
    );
  }
  const matched: string[] = [];
  // startsWith: a backend that lists more than asked must not let revoke reach other services or networks
  for await (const key of await b.keys(scope))
    if (key.startsWith(scope) && glob.test(key.slice(scope.length))) matched.push(key);
  let n = 0;
  for (const key of matched) if (await b.delete(key)) n++;
  return n;
}

export class Invalidation {
  constructor(private readonly context: InvalidationContext) {}

  /** Removes every entry of a service; returns how many. */
  async clear(service: string): Promise<number> {
    const svc = this.begin(service);
    const change: Change = { op: 'clear' };
    this.context.observer?.begin(svc, change);
    const counts = await this.observed(svc, change, () =>
      this.eachBackend(svc, 'clear', (b) => b.clear(svc.scope)),
    );
    return counts.reduce<number>((n, c) => n + (typeof c === 'number' ? c : 0), 0);
  }

  /**
   * Removes one entry of a service by action key (`get_user:123`) and its number/string twin
   * (`get_user:"123"`, key-forms.ts: one user, whichever type its id came as); true if one was there.
   */
  async delete(service: string, key: string): Promise<boolean> {
    const svc = this.begin(service);
    // An over-long key was stored hashed under the name of the action that built it: its own head for
    // `keys` (`get_user:...`), anything for a key function (`custom:...`), so try each cached action.
    const stored =
      key.length > this.context.maxKeyLength
        ? [...svc.actions.keys()].map((action) => hashKey(action, key))
        : keyForms(key);
    const change: Change = { op: 'delete', keys: stored };
    this.context.observer?.begin(svc, change);
    const results: unknown[] = [];
    await this.observed(svc, change, async () => {
      for (const k of stored)
        results.push(...(await this.eachBackend(svc, 'delete', (b) => b.delete(svc.scope + k))));
    });
    return results.some(Boolean);
  }

  /** Removes the entries of a service whose action key matches a glob; returns how many. */
  async revoke(service: string, pattern: string): Promise<number> {
    const glob = compileGlob(pattern);
    const svc = this.begin(service);
    const change: Change = { op: 'revoke', pattern, glob };
    this.context.observer?.begin(svc, change);
    const counts = await this.observed(svc, change, () =>
      this.eachBackend(svc, 'revoke', (b, guard) =>
        typeof b.revoke === 'function'
          ? b.revoke(svc.scope, glob.source, glob)
          : revokeByListing(b, guard, svc.scope, glob),
      ),
    );
    return counts.reduce((n, c) => n + c, 0);
  }

  /** Applies an event rule's key templates (`get_user:{id}`, `get_user:*`) to the event's data. */
  async applyRule(
    service: string,
    keys: readonly string[],
    ctx: RequestContext,
    data: unknown,
  ): Promise<void> {
    for (const template of keys) {
      const filled = fillTemplate(template, data);
      if ('missing' in filled) {
        this.context.logger.warn(
          { event: ctx.event?.topic, template, field: filled.missing },
          'event rule skipped a key: the event data lacks the field',
        );
        continue;
      }
      try {
        if (hasWildcard(filled.key)) await this.revoke(service, filled.key);
        else await this.delete(service, filled.key);
      } catch (err) {
        this.context.logger.error(
          { err, event: ctx.event?.topic, key: filled.key },
          'event rule could not invalidate',
        );
      }
    }
  }

  /** Runs the backends' part; the observer's `end` runs even when a backend failed (the other nodes still drop their copies). */
  private async observed<T>(svc: ServiceCache, change: Change, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } finally {
      this.context.observer?.end(svc, change);
    }
  }

  /** Marks the start of an invalidation: running misses of the service will not store. */
  private begin(service: string): ServiceCache {
    const svc = this.context.service(service);
    svc.generation++;
    for (const ac of svc.actions.values()) ac.inflight.clear();
    return svc;
  }

  private async eachBackend<T>(
    svc: ServiceCache,
    op: string,
    call: (b: CacheBackend, guard: GuardedBackend) => T | Promise<T>,
  ): Promise<T[]> {
    const out: T[] = [];
    const limit = this.context.managementTimeoutMs;
    for (const guard of svc.guards) {
      try {
        // Not `guard.run`: a revoke over a million Redis keys takes seconds, far past the
        // per-operation bound of the hit path; management gets its own, longer bound.
        out.push(
          await withTimeout(
            Promise.resolve().then(() => call(guard.backend, guard)),
            limit,
            `${op} took longer than ${limit} ms`,
          ),
        );
      } catch (err) {
        if (MeshError.is(err)) throw err;
        guard.failed(op, err);
        throw new MeshError(
          'BACKEND_ERROR',
          `cache backend '${guard.name}' failed to ${op}: ${(err as Error).message}`,
          { backend: guard.name, op },
          err,
        );
      }
    }
    return out;
  }
}
