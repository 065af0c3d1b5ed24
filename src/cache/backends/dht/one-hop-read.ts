/**
 * A one-hop read: the holders of a key are known (computed locally), so they
 * are asked directly.
 *
 * - This node's own copy, when it is a holder and holds one, answers at once
 *   (no hop): every holder got the same writes (writes go to all of them).
 * - `hedged` (default): the closest remote holder is asked first; the others
 *   are asked when it answers "none", fails, or has not answered after
 *   `hedgeMs`. One request per hit in the usual case.
 * - `parallel`: every remote holder is asked at once.
 * - `all`: every remote holder at once, and the newest copy among all answers
 *   (used while the membership settles: some holders may be new and empty,
 *   others may hold a copy older than the last write).
 *
 * Either way the first copy that arrives is returned; answers that arrive
 * later are compared last-write-wins with it in the background, and holders
 * that answered with an older copy (or none) are repaired.
 */
import { compareRecords, type MeshDht, type MeshNetwork, type StoredRecord } from '../../../network/index.js';
import { type DeadlineSignal, deadlineSignal } from '../../../node/deadline-signal.js';

export interface OneHopAnswer {
  /** False when no copy was found and some holder did not answer (the caller falls back to a lookup). */
  readonly ok: boolean;
  readonly record?: StoredRecord;
}

export interface OneHopReadOptions {
  readonly mode: 'hedged' | 'parallel' | 'all';
  readonly hedgeMs: number;
  readonly timeoutMs: number;
  readonly repairTimeoutMs: number;
  /** Only these peers are repaired (`all` while settling: the others asked are not holders). */
  readonly repairOnly?: ReadonlySet<string>;
}

type Reply = { peer: string; record: StoredRecord | undefined; failed: boolean };

/** Reads `key` from `holders` (closest first); `onRepair` counts the copies sent to holders that lagged. */
export function readOneHop(
  network: MeshNetwork,
  key: string,
  holders: readonly string[],
  options: OneHopReadOptions,
  onRepair: (n: number) => void,
): OneHopAnswer | Promise<OneHopAnswer> {
  const dht = network.dht;
  const self = dht.selfId;
  const remotes: string[] = [];
  let own: StoredRecord | undefined;
  for (const h of holders) {
    if (h !== self) remotes.push(h);
    else {
      own = dht.readServed(key);
      // `all` compares this node's copy with the others' instead.
      if (own !== undefined && options.mode !== 'all') return { ok: true, record: own };
    }
  }
  if (remotes.length === 0) return { ok: true, ...(own === undefined ? {} : { record: own }) };
  return new Promise((resolve) => new Read(dht, key, remotes, options, onRepair, resolve, own).start());
}

class Read {
  private readonly replies: Reply[] = [];
  private asked = 0;
  private settled = false;
  private hedge: NodeJS.Timeout | undefined;
  /** Cleared once every member asked has answered (AbortSignal.timeout cost ~5 µs a read). */
  private readonly deadline: DeadlineSignal;

  constructor(
    private readonly dht: MeshDht,
    private readonly key: string,
    private readonly remotes: readonly string[],
    private readonly options: OneHopReadOptions,
    private readonly onRepair: (n: number) => void,
    private readonly resolve: (answer: OneHopAnswer) => void,
    /** This node's own copy (`all` mode), compared with the answers. */
    private readonly own?: StoredRecord,
  ) {
    this.deadline = deadlineSignal(options.timeoutMs);
  }

  start(): void {
    if (this.options.mode !== 'hedged') this.askRest();
    else {
      this.ask(this.remotes[0] as string);
      // Ref'd: it bounds a read somebody awaits (cleared as soon as an answer settles it).
      if (this.remotes.length > 1) this.hedge = setTimeout(() => this.askRest(), this.options.hedgeMs);
    }
  }

  private ask(peer: string): void {
    this.asked++;
    this.dht.directGet(peer, this.key, this.deadline.signal).then(
      (record) => this.reply({ peer, record, failed: false }),
      () => this.reply({ peer, record: undefined, failed: true }),
    );
  }

  private askRest(): void {
    clearTimeout(this.hedge);
    this.hedge = undefined;
    while (this.asked < this.remotes.length) this.ask(this.remotes[this.asked] as string);
  }

  private reply(r: Reply): void {
    this.replies.push(r);
    if (!this.settled && r.record !== undefined && this.options.mode !== 'all') {
      this.settled = true;
      clearTimeout(this.hedge);
      this.resolve({ ok: true, record: r.record });
    } else if (!this.settled && this.asked < this.remotes.length) {
      this.askRest(); // "none" or a failure from the closest: ask the others now
    }
    if (this.replies.length < this.asked || this.asked < this.remotes.length) return;
    // Everyone asked has answered.
    this.deadline.done();
    const best = this.best();
    if (!this.settled) {
      this.settled = true;
      this.resolve(
        best === undefined ? { ok: this.replies.every((x) => !x.failed) } : { ok: true, record: best },
      );
    }
    if (best !== undefined) this.repair(best);
  }

  private best(): StoredRecord | undefined {
    let best: StoredRecord | undefined = this.own;
    for (const r of this.replies)
      if (r.record !== undefined && (best === undefined || compareRecords(r.record, best) > 0))
        best = r.record;
    return best;
  }

  /** Sends the winner to the holders that answered with an older copy or none. */
  private repair(winner: StoredRecord): void {
    const only = this.options.repairOnly;
    const losers = this.replies.filter(
      (r) =>
        !r.failed &&
        (only === undefined || only.has(r.peer)) &&
        (r.record === undefined || compareRecords(winner, r.record) > 0),
    );
    if (losers.length === 0) return;
    this.onRepair(losers.length);
    const signal = AbortSignal.timeout(this.options.repairTimeoutMs);
    for (const l of losers) this.dht.directPut(l.peer, this.key, winner, signal).catch(() => false);
  }
}
