/**
 * Tags (docs/tags.md). Each tagged entry records the full keys of
 * its tag records and `writtenAt`, the tag clock when the call that computed
 * it started. Invalidating a tag writes `now + 1` (tag clock) into its record;
 * an entry whose `writtenAt` is older than the latest record of one of its
 * tags is a miss. Two records per tag and service: the network-wide one
 * (`node.cache.invalidateTags`) and the service's own (`<service>/cache/invalidate`).
 *
 * Record keys: `<prefix><networkId>/$tags/*\/<tag>` (network) and
 * `<prefix><networkId>/$tags/<service>/<tag>` (service). Service names cannot
 * hold `$` or `*`, so records never collide with entries or each other.
 *
 * Where records live: a backend with the tag capability keeps them
 * (`getTagged` / `setTagged` / `invalidateTags`: Redis); a synchronous
 * backend (memory) gets a process-local store (`LocalTagStore`), a counter and
 * a map per backend instance.
 */
import type { RequestContext } from '../../node/context.js';
import type { CacheBackend } from '../backends/backend.js';

/** Tag records outlive the entries that carry them: a tagged entry lives at most this long. */
export const TAG_RETENTION_SECONDS = 7 * 24 * 3600;

/** The beginning of every tag record key of a network. */
export function tagBase(prefix: string, networkId: string): string {
  return `${prefix}${networkId}/$tags/`;
}

/** A tag must be a non-empty string without control characters (they delimit records in Redis). */
export function validTag(tag: unknown): tag is string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  return typeof tag === 'string' && tag.length > 0 && tag.length <= 512 && !/[\u0000-\u001f]/.test(tag);
}

/** The record keys of `tags` for a service: network-wide and service-scoped, two per tag. */
export function recordKeys(base: string, service: string, tags: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of tags) out.push(`${base}*/${t}`, `${base}${service}/${t}`);
  return out;
}

/**
 * Tag records of a synchronous (in-process) backend: a counter as the tag clock,
 * and a map. Records older than the retention are dropped (no entry that they
 * could invalidate is left), so high-cardinality tags do not grow the map forever.
 */
export class LocalTagStore {
  #clock = 0;
  /** Record key -> clock value of its latest invalidation (read on hits). */
  readonly #records = new Map<string, number>();
  /** Record key -> epoch ms of its latest invalidation, oldest first (for pruning). */
  readonly #written = new Map<string, number>();

  constructor(private readonly retentionMs = TAG_RETENTION_SECONDS * 1000) {}

  now(): number {
    return this.#clock;
  }

  invalidate(keys: readonly string[], nowMs = Date.now()): void {
    const at = ++this.#clock;
    for (const k of keys) {
      this.#records.set(k, at);
      this.#written.delete(k);
      this.#written.set(k, nowMs);
    }
    const cutoff = nowMs - this.retentionMs;
    for (const [k, writtenAt] of this.#written) {
      if (writtenAt > cutoff) break;
      this.#written.delete(k);
      this.#records.delete(k);
    }
  }

  /** The latest invalidation among `keys` (0: none). */
  latest(keys: readonly string[]): number {
    let max = 0;
    for (let i = 0; i < keys.length; i++) {
      const at = this.#records.get(keys[i]);
      if (at !== undefined && at > max) max = at;
    }
    return max;
  }

  /** How many records it holds. */
  get size(): number {
    return this.#records.size;
  }
}

const local = new WeakMap<CacheBackend, LocalTagStore>();

/** The process-local tag store of a synchronous backend (one per backend instance). */
export function localTagStore(backend: CacheBackend): LocalTagStore {
  let store = local.get(backend);
  if (store === undefined) {
    store = new LocalTagStore();
    local.set(backend, store);
  }
  return store;
}

/** The tag settings of one cached action, as the interceptor uses them. */
export interface ActionTags {
  /** Record keys of a result's tags; undefined: do not cache it. */
  readonly of: (params: unknown, result: unknown, ctx: RequestContext) => string[] | undefined;
  /** Synchronous backends: the process-local store; undefined: the backend keeps the records. */
  readonly local: LocalTagStore | undefined;
}
