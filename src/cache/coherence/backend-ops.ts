/**
 * A change, on the backends: what each backend does for a delete, a clear, a
 * revoke or a tag invalidation (tag records: a backend's own, or a
 * synchronous backend's process-local store). This node's changes are awaited
 * within the management bound; other nodes' changes on this node's in-process
 * backends are not (a notice handler; a failure is the guard's to count).
 */
import { MeshError } from '../../errors.js';
import { type CacheBackend, hasTags, isSynchronous } from '../backends/backend.js';
import type { GuardedBackend } from '../backends/guard.js';
import type { Glob } from '../keys/glob.js';
import type { Change } from './change.js';
import { localTagStore, TAG_RETENTION_SECONDS } from './tag-records.js';

/** The backend operation a change is, as guards count failures. */
function opName(change: Change): string {
  return change.op === 'tags' ? 'invalidateTags' : change.op;
}

/**
 * What `backend` does for `change` under `scope`: a delete answers whether each key was
 * there, a clear or revoke how many went. A backend without its own revoke calls `noRevoke`.
 */
function onBackend(
  b: CacheBackend,
  scope: string,
  change: Change,
  noRevoke: (glob: Glob) => unknown,
): unknown {
  if (change.op === 'delete') return Promise.all(change.keys.map((k) => b.delete(scope + k)));
  if (change.op === 'clear') return b.clear(scope);
  if (change.op === 'revoke')
    return typeof b.revoke === 'function'
      ? b.revoke(scope, change.glob.source, change.glob)
      : noRevoke(change.glob);
  const keys = change.tags.map((t) => scope + t);
  if (isSynchronous(b)) return localTagStore(b).invalidate(keys);
  // A backend without tag records holds no tagged entry (refused at start).
  return hasTags(b) ? b.invalidateTags!(keys, TAG_RETENTION_SECONDS) : undefined;
}

/**
 * This node's change on each backend in turn, each within `timeoutMs`; the first failure
 * throws BACKEND_ERROR. Returns each backend's answer.
 */
export async function changeBackends(
  guards: Iterable<GuardedBackend>,
  scope: string,
  change: Change,
  timeoutMs: number,
): Promise<unknown[]> {
  const out: unknown[] = [];
  const op = opName(change);
  for (const guard of new Set(guards)) {
    try {
      // Not `guard.run`: a revoke over a million Redis keys takes seconds, far past the
      // per-operation bound of the hit path; management gets its own, longer bound.
      const done = guard.operation(op, () => {
        const call = Promise.resolve().then(() =>
          onBackend(guard.backend, scope, change, (glob) => revokeByListing(guard, scope, glob)),
        );
        return withTimeout(call, timeoutMs, `${op} took longer than ${timeoutMs} ms`);
      });
      out.push(await done);
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

/** Another node's change on this node's in-process backends; one that cannot match a pattern drops the scope. */
export function changeLocalBackends(guards: Iterable<GuardedBackend>, scope: string, change: Change): void {
  const op = opName(change);
  for (const guard of new Set(guards)) {
    const b = guard.backend;
    try {
      const done = onBackend(b, scope, change, () => b.clear(scope));
      if (done instanceof Promise) done.catch((err) => guard.failed(op, err));
    } catch (err) {
      guard.failed(op, err);
    }
  }
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
async function revokeByListing(guard: GuardedBackend, scope: string, glob: Glob): Promise<number> {
  const b = guard.backend;
  if (typeof b.keys !== 'function') {
    throw new MeshError(
      'BACKEND_ERROR',
      `cache backend '${guard.name}' cannot list keys, so it cannot revoke by pattern`,
      { backend: guard.name },
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
