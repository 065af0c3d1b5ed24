/**
 * Invalidation by tag: records `tag -> invalidation time` in every backend
 * concerned (see tags.ts), after stopping the running misses of the services
 * concerned from storing (their generation is bumped). Network-wide
 * (`node.cache.invalidateTags`): every backend of the node, every service;
 * service-scoped (`<service>/cache/invalidate`, service-level event rules):
 * the backends of that service only.
 */
import type { Logger } from 'pino';
import { MeshError } from '../../errors.js';
import type { RequestContext } from '../../node/context.js';
import { type CacheBackend, hasTags, isSynchronous } from '../backends/backend.js';
import type { GuardedBackend } from '../backends/guard.js';
import { fillTemplate } from '../keys/template.js';
import type { ServiceCache } from '../read/action-cache.js';
import { invalidationKeys, localTagStore, TAG_RETENTION_SECONDS } from './tag-records.js';

/** Told of this node's tag invalidations (the near tiers, the other nodes: src/cache/near/). */
export interface TagObserver {
  /** Before the backends are asked: near copies carrying these record keys go. */
  beginTags(recordKeys: readonly string[]): void;
  /** Once they answered (or failed): copies filled meanwhile go, the other nodes are told. */
  endTags(scope: string, tags: readonly string[]): void;
}

/**
 * A tag invalidation of this node: records in every backend of `guards`, with the
 * observer told before and after; the other nodes are told even when a backend
 * failed (as for clear and delete).
 */
export async function invalidateTagged(
  observer: TagObserver,
  guards: Iterable<GuardedBackend>,
  base: string,
  service: string | undefined,
  tags: readonly string[],
  timeoutMs: number,
): Promise<void> {
  observer.beginTags(invalidationKeys(base, service, tags));
  try {
    await recordTagInvalidation(guards, base, service, tags, timeoutMs);
  } finally {
    observer.endTags(`${base}${service ?? '*'}/`, tags);
  }
}

/** Marks the start of an invalidation of `services`: their running misses will not store. */
export function stopRunningMisses(services: Iterable<ServiceCache>): void {
  for (const svc of services) {
    svc.generation++;
    for (const ac of svc.actions.values()) ac.inflight.clear();
  }
}

/** Writes the records of `tags` (`service` undefined: network-wide) into each backend. */
export async function recordTagInvalidation(
  guards: Iterable<GuardedBackend>,
  base: string,
  service: string | undefined,
  tags: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const keys = invalidationKeys(base, service, tags);
  for (const guard of new Set(guards)) {
    const b: CacheBackend = guard.backend;
    if (isSynchronous(b)) {
      localTagStore(b).invalidate(keys);
      continue;
    }
    if (!hasTags(b)) continue; // no tagged action can use it (refused at start)
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(() => b.invalidateTags!(keys, TAG_RETENTION_SECONDS)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`invalidateTags took longer than ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      guard.failed('invalidateTags', err);
      throw new MeshError(
        'BACKEND_ERROR',
        `cache backend '${guard.name}' failed to invalidate tags: ${(err as Error).message}`,
        { backend: guard.name, op: 'invalidateTags' },
        err,
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Another node's tag invalidation, on this node's in-process backends (their records are
 * this process's own): synchronous ones get it in their LocalTagStore, others that keep
 * tag records are asked (not awaited: a notice handler; a failure is the guard's to count).
 */
export function recordLocally(guards: Iterable<GuardedBackend>, keys: readonly string[]): void {
  for (const guard of new Set(guards)) {
    const b: CacheBackend = guard.backend;
    if (isSynchronous(b)) localTagStore(b).invalidate(keys);
    else if (hasTags(b)) {
      Promise.resolve()
        .then(() => b.invalidateTags!(keys, TAG_RETENTION_SECONDS))
        .catch((err) => guard.failed('invalidateTags', err));
    }
  }
}

/** Fills an event rule's tag templates from the event data; a template missing a field is skipped (warned). */
export function fillRuleTags(
  templates: readonly string[],
  data: unknown,
  warn: (template: string, field: string) => void,
): string[] {
  const out: string[] = [];
  for (const template of templates) {
    const filled = fillTemplate(template, data);
    if ('missing' in filled) warn(template, filled.missing);
    else out.push(filled.key);
  }
  return out;
}

/** A list of tags for invalidation: non-empty strings; INVALID_PARAMS otherwise. */
export function checkTags(tags: unknown): string[] {
  if (
    !Array.isArray(tags) ||
    tags.length === 0 ||
    !tags.every((t) => typeof t === 'string' && t.length > 0)
  ) {
    throw new MeshError('INVALID_PARAMS', 'tags must be a non-empty array of non-empty strings', {
      field: 'tags',
    });
  }
  return [...new Set(tags as string[])];
}

/** An event rule's `tags`: fills them from the event's data and invalidates them with `invalidate`. */
export async function applyTagRule(
  invalidate: (tags: readonly string[]) => Promise<unknown>,
  templates: readonly string[],
  ctx: RequestContext,
  data: unknown,
  logger: Logger,
): Promise<void> {
  const tags = fillRuleTags(templates, data, (template, field) =>
    logger.warn(
      { event: ctx.event?.topic, template, field },
      'event rule skipped a tag: the event data lacks the field',
    ),
  );
  if (tags.length === 0) return;
  try {
    await invalidate(tags);
  } catch (err) {
    logger.error({ err, event: ctx.event?.topic, tags }, 'event rule could not invalidate tags');
  }
}
