/**
 * What an operator reads of a service's cache without calling its actions:
 * the action keys stored (where the backend can list them) and one entry, as
 * the action would answer it (the value out of its envelope; nothing for an
 * entry past its stale window or invalidated by one of its tags). Neither
 * counts as a hit or a miss, nor fills a near tier.
 */
import { MeshError } from '../../errors.js';
import type { TaggedRead } from '../backends/backend.js';
import type { GuardedBackend } from '../backends/guard.js';
import type { Glob } from '../keys/glob.js';
import type { ActionCache, ServiceCache } from './action-cache.js';
import { asEnvelope, entryState, readable, readableTagged } from './entry.js';

/** An entry as `<service>/cache/get` answers it. */
export interface PeekedEntry {
  found: boolean;
  value?: unknown;
  /** `fresh`, or `stale` (the action answers it and refreshes it in the background). */
  state?: 'fresh' | 'stale';
}

/** A service's cache as the management actions read it. */
export interface EntryReader {
  /** Action keys (relative to the service) matching `glob`, sorted, at most `limit`. */
  keys(glob: Glob | undefined, limit: number): Promise<{ keys: string[]; truncated: boolean }>;
  /** The entry of an action key (`get_user:1`). */
  get(key: string): Promise<PeekedEntry>;
}

function backendError(guard: GuardedBackend, op: string, err: unknown): MeshError {
  if (MeshError.is(err)) return err;
  guard.failed(op, err);
  return new MeshError(
    'BACKEND_ERROR',
    `cache backend '${guard.name}' failed to ${op}: ${(err as Error).message}`,
    { backend: guard.name, op },
    err,
  );
}

async function listKeys(
  svc: ServiceCache,
  glob: Glob | undefined,
  limit: number,
): Promise<{ keys: string[]; truncated: boolean }> {
  const scope = svc.scope;
  const found = new Set<string>();
  let truncated = false;
  for (const guard of svc.guards) {
    const b = guard.backend;
    if (typeof b.keys !== 'function') {
      throw new MeshError(
        'BACKEND_ERROR',
        `cache backend '${guard.name}' cannot list keys (delete, revoke and clear work without it)`,
        { backend: guard.name, op: 'keys' },
      );
    }
    try {
      await guard.operation('keys', async () => {
        // startsWith: a backend that lists more than asked must not show other services' keys.
        for await (const key of await b.keys!(scope + (glob?.literalPrefix ?? ''))) {
          if (!key.startsWith(scope)) continue;
          const rel = key.slice(scope.length);
          if (glob !== undefined && !glob.test(rel)) continue;
          if (found.size === limit && !found.has(rel)) {
            truncated = true;
            return;
          }
          found.add(rel);
        }
      });
    } catch (err) {
      throw backendError(guard, 'keys', err);
    }
    if (truncated) break;
  }
  return { keys: [...found].sort(), truncated };
}

/**
 * The actions whose settings read `key`: the one it is named after (`get_user:1` ->
 * `get_user`), else (a `key` function's own keys) one action per backend of the service.
 */
function readersOf(svc: ServiceCache, key: string): ActionCache[] {
  const colon = key.indexOf(':');
  const named = svc.actions.get(colon < 0 ? key : key.slice(0, colon));
  if (named !== undefined) return [named];
  const byGuard = new Map<GuardedBackend, ActionCache>();
  for (const ac of svc.actions.values()) if (!byGuard.has(ac.guard)) byGuard.set(ac.guard, ac);
  return [...byGuard.values()];
}

async function readEntry(svc: ServiceCache, key: string): Promise<PeekedEntry> {
  for (const ac of readersOf(svc, key)) {
    const entry = await readWith(ac, svc.scope + key);
    if (entry.found) return entry;
  }
  return { found: false };
}

async function readWith(ac: ActionCache, full: string): Promise<PeekedEntry> {
  const { guard } = ac;
  const tags = ac.policies.tags;
  let raw: unknown;
  let invalidatedAt: number | undefined;
  try {
    if (tags !== undefined && tags.local === undefined) {
      const read = (await guard.run('get', (b) => b.getTagged!(full), readableTagged)) as TaggedRead;
      raw = read.value;
      invalidatedAt = read.invalidatedAt;
    } else if (ac.sync !== undefined) raw = guard.run('get', (b) => b.get(full));
    else raw = await guard.run('get', (b) => b.get(full), readable);
  } catch (err) {
    throw backendError(guard, 'get', err);
  }
  if (raw === undefined || raw === null) return { found: false };
  const envelope = asEnvelope(raw);
  // A synchronous backend keeps a plain result (no deadlines, no tags) as it is.
  if (envelope === undefined) return { found: true, value: raw, state: 'fresh' };
  const tagsAt =
    invalidatedAt ??
    (envelope.tags !== undefined && tags?.local !== undefined ? tags.local.latest(envelope.tags) : 0);
  const state = entryState(envelope, tagsAt, ac.staleTtl, ac.policies.grace);
  if (state !== 'fresh' && state !== 'stale') return { found: false };
  return { found: true, value: envelope.value, state };
}

/** The reader of one service's cache. */
export function entryReader(svc: ServiceCache): EntryReader {
  return {
    keys: (glob, limit) => listKeys(svc, glob, limit),
    get: (key) => readEntry(svc, key),
  };
}
