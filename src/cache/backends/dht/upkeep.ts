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
import { isExpired, type LocalRecord, sortByDistance } from '../../../network/index.js';
import type { DhtState } from './state.js';

const UPKEEP_CONCURRENCY = 16;
const MAX_HANDOFF_ATTEMPTS = 5;

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

/**
 * Runs the upkeep: batched after membership changes (`schedule`), and from the
 * sweep, which also removes expired records (an expired value becomes a
 * tombstone for a while). Failed hand-offs are retried a few times.
 */
export class Upkeep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** The membership the last pass planned against. */
  private base: Set<string> | undefined;
  /** Hand-offs that failed (peer busy or timed out): key -> peers still to reach, and attempts so far. */
  private retries = new Map<string, { peers: Set<string>; attempts: number }>();

  constructor(private readonly state: DhtState) {}

  /** Takes the current membership as the base of the next pass (on open and after a rejoin). */
  rebase(peers: Iterable<string>): void {
    this.base = new Set(peers);
  }

  close(): Promise<unknown> {
    clearTimeout(this.timer);
    this.timer = undefined;
    return Promise.allSettled([this.running]);
  }

  /** Runs a pending pass now; resolves when passes have settled. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.running = this.run();
    }
    await Promise.allSettled([this.running]);
  }

  schedule(delayMs = this.state.options.upkeepDelayMs): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const previous = this.running ?? Promise.resolve();
      this.running = previous.then(() => this.run());
    }, delayMs);
    this.timer.unref();
  }

  /** Removes expired records and passes records this node should not hold to their holders. */
  sweep(now = Date.now()): void {
    this.state.rules.prune(now);
    const network = this.state.network;
    if (!network?.started) return;
    const dht = network.dht;
    for (const { key, record } of dht.localRecords()) {
      if (!isExpired(record, now)) continue;
      if (record.deleted === true) dht.deleteLocal(key);
      else {
        // An expired value becomes a tombstone for a while (it wins the tie), so an older copy elsewhere cannot win over it.
        dht.storeLocal(key, {
          ...record,
          value: undefined,
          deleted: true,
          expiresAt: now + this.state.options.tombstoneTtlSeconds * 1000,
        });
      }
    }
    // Records that reached this node from a peer with an older view of the membership, or whose
    // hand-off failed, are passed on to their holders (an upkeep pass with no membership change).
    if (this.timer === undefined) this.schedule(0);
  }

  private async run(): Promise<void> {
    const { network, options } = this.state;
    if (network === undefined || !network.started) return;
    const dht = network.dht;
    const now = new Set(network.peers());
    const before = this.base ?? now;
    this.base = now;
    const live = [...dht.localRecords()].filter((r) => !isExpired(r.record));
    const plan = planUpkeep(live, before, now, dht.selfId, options.replication);
    // Failed hand-offs of earlier passes, still relevant: the peer is a member and still a holder.
    const pending = this.retries;
    this.retries = new Map();
    const planned = new Map(plan.map((h) => [h.entry.key, h]));
    for (const entry of live) {
      const retry = pending.get(entry.key);
      if (retry === undefined) continue;
      const holders = sortByDistance(entry.key, [...now, dht.selfId]).slice(0, options.replication);
      const targets = [...retry.peers].filter((p) => now.has(p) && holders.includes(p));
      if (targets.length === 0) continue;
      const existing = planned.get(entry.key);
      const merged = {
        entry,
        targets: [...new Set([...(existing?.targets ?? []), ...targets])],
        dropAfter: !holders.includes(dht.selfId),
      };
      if (existing === undefined) plan.push(merged);
      else plan[plan.indexOf(existing)] = merged;
      planned.set(entry.key, merged);
    }
    if (plan.length === 0) return;
    let sent = 0;
    await runLimited(plan, UPKEEP_CONCURRENCY, async ({ entry, targets, dropAfter }) => {
      const results = await Promise.all(
        targets.map((p) => dht.storeAt(p, entry.key, entry.record, this.state.signal()).catch(() => false)),
      );
      sent += results.filter(Boolean).length;
      const failed = targets.filter((_, i) => !results[i]);
      if (failed.length === 0) {
        if (dropAfter && results.length > 0) dht.deleteLocal(entry.key);
        return;
      }
      const attempts = (pending.get(entry.key)?.attempts ?? 0) + 1;
      if (attempts <= MAX_HANDOFF_ATTEMPTS) this.retries.set(entry.key, { peers: new Set(failed), attempts });
    });
    this.state.counters.handoffs += sent;
    this.state.logger?.debug(
      { records: plan.length, sent, retrying: this.retries.size },
      'replication upkeep done',
    );
    if (this.retries.size > 0) this.schedule(Math.max(1000, options.upkeepDelayMs));
  }
}
