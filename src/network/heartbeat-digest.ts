/**
 * Heartbeats by gossip: each tick a member sends a digest to a few members
 * (`FANOUT`), not a heartbeat to every member, so a member's messages stay
 * the same whatever the size of the network (the digest grows with it). A
 * digest says what its sender heard of every member: the latest notice number
 * and how long ago. Word spreads in a few hops, so the tick is short enough
 * for the hops to fit within the bound.
 */

/** Members each digest goes to per tick. */
export const FANOUT = 3;

/** Shortest tick, ms. */
const MIN_TICK_MS = 20;

/** One member as a digest tells it: peer id, notice epoch, latest notice number, age of the news (ms). */
export type DigestEntry = [peer: string, epoch: string, seq: number, ageMs: number];

/** Hops word of a member takes to reach every other (a margin over log base FANOUT + 1). */
export function hops(members: number): number {
  if (members <= FANOUT) return 1;
  return Math.ceil(Math.log(members + 1) / Math.log(FANOUT + 1)) + 1;
}

/**
 * The tick for a bound and a network of `members` others: the hops, a tick to
 * notice, and a tenth of the bound for the way fit in the bound.
 */
export function tickFor(boundMs: number, members: number): number {
  return Math.max(MIN_TICK_MS, Math.floor((boundMs - boundMs / 10) / (hops(members) + 2)));
}

/** Picks the next `FANOUT` members in a shuffled round, so each hears from about FANOUT members per tick. */
export class Rotation {
  private order: string[] = [];
  private next = 0;

  pick(members: readonly string[]): string[] {
    if (members.length <= FANOUT) return [...members];
    const out: string[] = [];
    const present = new Set(members);
    while (out.length < FANOUT) {
      if (this.next >= this.order.length) {
        this.order = shuffle([...members]);
        this.next = 0;
      }
      const peer = this.order[this.next++] as string;
      if (present.has(peer) && !out.includes(peer)) out.push(peer);
    }
    return out;
  }
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}
