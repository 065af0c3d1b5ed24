/**
 * Replication upkeep: after peers join or leave, decide which records this
 * node must hand to whom so that each live record is again stored on the
 * `replication` peers closest to its key.
 *
 * For each record held here, the holders before (`old` membership) and after
 * (`now`) are the `replication` closest of membership + self. If this node is
 * still a holder, it sends the record to the holders that were not holders
 * before (a leaver's replacement, or a closer newcomer). If it is no longer a
 * holder, it sends the record to every current holder and drops its copy once
 * they have all acknowledged it. Every holder does the same, so a new holder
 * may receive up to `replication - 1` identical copies: the last-write-wins
 * store makes that harmless.
 */
import { type LocalRecord, sortByDistance } from '../../network/index.js';

export interface Handoff {
  readonly entry: LocalRecord;
  readonly targets: string[];
  /** Remove the local copy once every target acknowledged. */
  readonly dropAfter: boolean;
}

export function planUpkeep(
  records: Iterable<LocalRecord>,
  before: ReadonlySet<string>,
  now: ReadonlySet<string>,
  self: string,
  replication: number,
): Handoff[] {
  const plan: Handoff[] = [];
  const beforeList = [...before, self];
  const nowList = [...now, self];
  for (const entry of records) {
    const holdersNow = sortByDistance(entry.key, nowList).slice(0, replication);
    const holdersBefore = new Set(sortByDistance(entry.key, beforeList).slice(0, replication));
    if (holdersNow.includes(self)) {
      const targets = holdersNow.filter((p) => p !== self && !holdersBefore.has(p));
      if (targets.length > 0) plan.push({ entry, targets, dropAfter: false });
    } else {
      plan.push({ entry, targets: holdersNow, dropAfter: true });
    }
  }
  return plan;
}

/** Runs `tasks` with at most `limit` in flight. */
export async function runLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
