/**
 * Grace (stale-if-error) and soft timeouts. Used when an entry is
 * past its stale window but still stored (its `grace`), so a stale value is at
 * hand while the handler runs:
 *
 * - the handler fails (throws, or would outlive the request's deadline): the
 *   caller gets the stale value instead of the error (`graceHits`, a warning);
 * - `softTimeoutMs` passes before the handler answers: the caller gets the
 *   stale value (`softTimeouts`); the handler keeps running and its result is
 *   stored as usual.
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../../node/context.js';
import type { ActionStats } from '../operations/metrics.js';

/** Answer this long before the request's deadline, so the stale value beats the node's TIMEOUT. */
const DEADLINE_MARGIN_MS = 2;

export interface GraceTarget {
  readonly stats: ActionStats;
  readonly logger: Logger;
  readonly softTimeoutMs: number;
}

/**
 * Resolves with the handler's answer (`fresh`), or with `stale()` when it fails,
 * passes the soft timeout or would pass the request's deadline.
 */
export function withGrace<S>(
  target: GraceTarget,
  key: string,
  ctx: RequestContext,
  pending: Promise<S>,
  fresh: (s: S) => unknown,
  stale: () => unknown,
): Promise<unknown> {
  return new Promise((resolve) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    // The earlier of the soft timeout and (a little before) the request's deadline.
    let wait = target.softTimeoutMs > 0 ? target.softTimeoutMs : Number.POSITIVE_INFINITY;
    let bySoft = wait !== Number.POSITIVE_INFINITY;
    if (ctx.deadline > 0) {
      const untilDeadline = Math.max(0, ctx.deadline - Date.now() - DEADLINE_MARGIN_MS);
      if (untilDeadline < wait) {
        wait = untilDeadline;
        bySoft = false;
      }
    }
    if (wait !== Number.POSITIVE_INFINITY) {
      timer = setTimeout(() => {
        if (done) return;
        done = true;
        if (bySoft) target.stats.softTimeouts++;
        else {
          target.stats.graceHits++;
          target.logger.warn(
            { key, path: ctx.path },
            'handler did not answer before the request deadline; answering with the stale cached value (grace)',
          );
        }
        resolve(stale());
      }, wait);
    }
    pending.then(
      (s) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(fresh(s));
      },
      (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        target.stats.graceHits++;
        target.logger.warn(
          { err, key, path: ctx.path },
          'handler failed; answering with the stale cached value (grace)',
        );
        resolve(stale());
      },
    );
  });
}
