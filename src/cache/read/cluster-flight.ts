/**
 * `coalesce: 'cluster'`: one handler run per key across the nodes sharing a
 * backend that offers leases (Redis). On a miss (local callers of the key are
 * already coalesced on one promise):
 *
 * 1. take the lease (`SET <lease> NX PX leaseMs`): taken -> run the handler,
 *    store, release the lease (which wakes every waiter through pub/sub);
 * 2. not taken -> wait for the release notification, or a short bounded
 *    backoff (25 ms doubling to 200 ms): a holder that died only lets its lease
 *    expire; then read the key again: a value -> answer with it; none -> try
 *    the lease again (the holder failed, or died);
 * 3. never past the request's deadline, and never failing because of the
 *    lease: a backend error or the deadline coming close -> run the handler.
 *
 * The lease lives `leaseMs` (the action's `timeout` option, else 10 s) and the
 * holder renews it every `leaseMs / 2` while its handler runs (PEXPIRE if still
 * ours), up to its request's deadline: a live holder keeps it however slow its
 * handler, a dead one loses it within `leaseMs`.
 */
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../node/context.js';
import type { CacheBackend } from '../backends/backend.js';

export const DEFAULT_LEASE_MS = 10_000;
const FIRST_BACKOFF_MS = 25;
const MAX_BACKOFF_MS = 200;
/** A lease command of a backend that does not bound its own operations fails after this long. */
const LEASE_OP_TIMEOUT_MS = 1_000;
/** Run the handler ourselves when the deadline is this close, at least (see `margin`). */
const DEADLINE_MARGIN_MS = 20;

export interface ClusterCoalescing {
  readonly backend: CacheBackend;
  /** `<prefix><networkId>/$lease/`: the lease of `<prefix><networkId>/<service>/<key>` is this + `<service>/<key>`. */
  readonly leaseBase: string;
  /** Length of `<prefix><networkId>/`. */
  readonly networkScopeLength: number;
  readonly leaseMs: number;
}

/**
 * Runs `run` once in the cluster for `key`: resolves with `run()`'s result here,
 * or with `read()`'s value once another node stored it.
 */
export async function clusterSingleFlight<S>(
  cc: ClusterCoalescing,
  key: string,
  ctx: RequestContext,
  run: () => Promise<S>,
  read: () => Promise<S | undefined>,
  onWaited: () => void,
): Promise<S> {
  const b = cc.backend;
  const lease = cc.leaseBase + key.slice(cc.networkScopeLength);
  const token = randomUUID();
  let backoff = FIRST_BACKOFF_MS;
  let waited = false;
  // A quarter of the request's time is kept for the handler: a waiter that ran it with 20 ms left timed out on a busy machine.
  const margin =
    ctx.deadline > 0 ? Math.max(DEADLINE_MARGIN_MS, (ctx.deadline - Date.now()) / 4) : DEADLINE_MARGIN_MS;
  for (;;) {
    let taken: boolean;
    try {
      taken = await bounded(b, () => b.acquireLease!(lease, token, cc.leaseMs));
    } catch {
      return run(); // the lease never fails a call
    }
    if (taken) {
      const stopRenewing = renewWhileRunning(b, lease, token, cc.leaseMs, ctx.deadline);
      try {
        return await run();
      } finally {
        stopRenewing();
        Promise.resolve()
          .then(() => b.releaseLease!(lease, token))
          .catch(() => {}); // the lease expires by itself
      }
    }
    if (!waited) {
      waited = true;
      onWaited();
    }
    const left = ctx.deadline > 0 ? ctx.deadline - Date.now() - margin : Number.POSITIVE_INFINITY;
    if (left <= 0) return run();
    await b.waitLease!(lease, Math.min(backoff, left));
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    let found: S | undefined;
    try {
      found = await read();
    } catch {
      return run();
    }
    if (found !== undefined) return found;
  }
}

/**
 * Renews the lease every `leaseMs / 2` until stopped, until the backend says it is no longer
 * ours (lost, or the node stopped and closed it), or until the request's `deadline` (epoch
 * ms, 0: none): past it the caller has its TIMEOUT, and the lease then runs out by itself.
 */
function renewWhileRunning(
  b: CacheBackend,
  lease: string,
  token: string,
  leaseMs: number,
  deadline: number,
): () => void {
  if (typeof b.renewLease !== 'function') return () => {};
  let busy = false;
  const timer = setInterval(
    () => {
      if (busy) return; // the previous renewal is still on its way
      const ms = deadline > 0 ? Math.min(leaseMs, deadline - Date.now()) : leaseMs;
      if (ms <= 0) return clearInterval(timer);
      busy = true;
      bounded(b, () => b.renewLease!(lease, token, ms)).then(
        (ours) => {
          busy = false;
          if (!ours) clearInterval(timer);
        },
        () => {
          busy = false; // a passing failure: the lease may still be ours, the next period tries again
        },
      );
    },
    Math.max(1, Math.floor(leaseMs / 2)),
  );
  timer.unref(); // nothing awaits it: it must not keep a process alive
  return () => clearInterval(timer);
}

/** The backend's answer, or a failure after LEASE_OP_TIMEOUT_MS unless it bounds its operations itself (Redis). */
function bounded<T>(b: CacheBackend, call: () => T | Promise<T>): Promise<T> {
  const p = Promise.resolve().then(call);
  if (b.operationTimeoutMs !== undefined) return p;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('lease operation timed out')), LEASE_OP_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
