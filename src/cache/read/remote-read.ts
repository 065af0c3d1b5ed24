/**
 * The read of a tagged action on a backend that keeps tag records (Redis): the
 * value and its records in one round trip (two on a Cluster). An entry older
 * than its latest record is a miss (`tagMisses`); a valid one is a hit, and may
 * fill the near tier (`fill`, given by the near invoker).
 */
import type { RequestContext } from '../../node/context.js';
import type { ActionInvoker } from '../../node/interceptors.js';
import type { Params } from '../../node/types.js';
import type { TaggedRead } from '../backends/backend.js';
import type { ActionCache } from './action-cache.js';
import { afterGet, miss } from './invoker.js';
import { asEnvelope, readableTagged } from './miss.js';

export function taggedGet(
  ac: ActionCache,
  key: string,
  ctx: RequestContext,
  params: Params,
  next: ActionInvoker,
  started: number,
  /** Called with a valid (not invalidated) hit, before it is answered. */
  fill?: (read: TaggedRead) => void,
): unknown {
  let found: unknown;
  try {
    found = ac.guard.run('get', (b) => b.getTagged!(key), readableTagged);
  } catch {
    ac.stats.errors++;
    return miss(ac, key, ctx, params, next);
  }
  return Promise.resolve(found).then(
    (read) => {
      if (started !== 0) ac.onLatency('get', performance.now() - started);
      const { value, invalidatedAt, now } = read as TaggedRead;
      const envelope = value === undefined || value === null ? undefined : asEnvelope(value);
      if (envelope !== undefined && invalidatedAt > envelope.writtenAt) {
        ac.stats.tagMisses++;
        return miss(ac, key, ctx, params, next, now);
      }
      if (value === undefined || value === null) return miss(ac, key, ctx, params, next, now);
      if (fill !== undefined && envelope !== undefined) fill(read as TaggedRead);
      return afterGet(ac, value, key, ctx, params, next, now);
    },
    () => {
      ac.stats.errors++;
      return miss(ac, key, ctx, params, next);
    },
  );
}
