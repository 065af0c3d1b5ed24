/**
 * The read of a remote (asynchronous) backend, for the remote and near
 * variants: `get`, `getWithTtl` when the near tier keeps copies, or
 * `getTagged` (value and tag records together, one round trip) for a tagged
 * action on a backend that keeps tag records. A failed or refused get is a
 * miss; nothing a backend does fails a call the handler alone would serve.
 */
import type { RequestContext } from '../../node/context.js';
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import type { TaggedRead } from '../backends/backend.js';
import type { ActionCache } from './action-cache.js';
import { answer } from './answer.js';
import { readable, readableTagged } from './entry.js';
import { miss } from './miss.js';
import type { CacheEnvelope } from './snapshot.js';

/** Told of a valid remote entry and its remaining life in ms (the near tier keeps a copy). */
export type KeepCopy = (envelope: CacheEnvelope, ttlMs: number) => void;

type Entry = { value: unknown; ttlMs: number } | undefined;

function readableEntry(e: Entry): boolean {
  return e === undefined || e === null || (typeof e === 'object' && readable(e.value));
}

/**
 * Reads `key` from the action's backend and answers. `keep` (near tier, given only when the
 * backend tells remaining lives): asks the remaining life too, and keeps a copy of a valid entry.
 */
export function readRemote(
  ac: ActionCache,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  keep?: KeepCopy,
): unknown {
  const { guard, stats } = ac;
  if (!guard.available) {
    stats.bypassed++;
    return next(ctx, params);
  }
  const started = stats.startSample();
  const tagged = ac.policies.tags !== undefined && ac.policies.tags.local === undefined;
  const withTtl = keep !== undefined && !tagged;
  let found: unknown;
  try {
    if (tagged) found = guard.run('get', (b) => b.getTagged!(key), readableTagged);
    else if (withTtl) found = guard.run('get', (b) => b.getWithTtl!(key) as Promise<Entry>, readableEntry);
    else found = guard.run('get', (b) => b.get(key), readable);
  } catch {
    stats.errors++;
    return miss(ac, key, ctx, params, next);
  }
  const settle = (read: unknown): unknown => {
    if (started !== 0) ac.onLatency('get', performance.now() - started);
    if (tagged) {
      const { value, invalidatedAt, now, ttlMs } = read as TaggedRead;
      const onValid =
        keep === undefined || ttlMs === undefined ? undefined : (e: CacheEnvelope) => keep(e, ttlMs);
      return answer(ac, value, key, ctx, params, next, now, invalidatedAt, onValid);
    }
    if (!withTtl) return answer(ac, read, key, ctx, params, next);
    const entry = read as Entry;
    if (entry === undefined || entry === null) return miss(ac, key, ctx, params, next);
    return answer(ac, entry.value, key, ctx, params, next, undefined, undefined, (e) =>
      keep!(e, entry.ttlMs),
    );
  };
  if (!(found instanceof Promise)) return settle(found);
  return found.then(settle, () => {
    stats.errors++;
    return miss(ac, key, ctx, params, next);
  });
}
