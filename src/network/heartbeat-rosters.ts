/**
 * Heartbeat digests by position. A digest names every member a node heard of
 * (~90 bytes each: peer id, notice epoch, latest number, age), so at 100
 * members every heartbeat carried ~9 KB, and the network as a whole encoded,
 * encrypted and parsed that many times a second. The names change rarely:
 * once a member holds the sender's roster (the members, in order, with their
 * epochs), a digest needs only each one's latest number and age, ~8 bytes.
 *
 * A roster goes in full to a member new on this connection, to one that asks
 * (`r`: it did not hold the version a digest went by, e.g. its frame was lost
 * with a stream) and to one too many versions behind; a change goes as the
 * difference from the version the member holds (rosters.ts). A member whose
 * heartbeats carry no version (an earlier release) gets every digest in full.
 */
import type { DigestEntry } from './heartbeat-digest.js';
import { RosterIn, RosterOut } from './rosters.js';
import { type HeartbeatRequest, type PostedFrame, postedFrame } from './wire/index.js';

/** What a heartbeat's digest says, and what its sender is owed. */
export interface DigestRead {
  /** The entries (undefined: none, or by position in a roster this node does not hold). */
  readonly d: DigestEntry[] | undefined;
  /** Post the sender a heartbeat now: it asked for this node's roster, or this node needs its. */
  readonly answer: boolean;
  /** This node does not hold the roster the digest went by: the answer asks for it. */
  readonly ask: boolean;
}

/** Both sides of the rosters of one node: what it sent each member, and what each sent it. */
export class DigestRosters {
  private readonly out = new RosterOut();
  private readonly in = new RosterIn();
  /** The roster version last asked of each member (asked once, not at every digest by position). */
  private readonly asked = new Map<string, number>();
  readonly counters = { inFull: 0, byPosition: 0 };

  read(req: HeartbeatRequest, from: string): DigestRead {
    if (req.h === undefined) return { d: req.d, answer: false, ask: false };
    this.out.reads(from);
    if (req.r === 1) this.out.reset(from);
    if (req.d !== undefined) {
      this.in.learn(from, req.e, req.h, req.d);
      this.asked.delete(from);
      return { d: req.d, answer: req.r === 1, ask: false };
    }
    if (req.c === undefined) return { d: undefined, answer: req.r === 1, ask: false };
    if (req.b !== undefined)
      this.in.change(from, req.e, req.b, req.h, { removed: req.x ?? [], added: req.a ?? [] });
    const d = this.in.expand(from, req.e, req.h, req.c);
    const ask = d === undefined && this.asked.get(from) !== req.h;
    if (ask) this.asked.set(from, req.h);
    return { d, answer: ask || req.r === 1, ask };
  }

  /**
   * Posts `base` with digest `d` to each of `peers`: by position where it holds the roster
   * (with the roster's change since the version it holds, if any), else in full.
   */
  post(
    peers: readonly string[],
    base: HeartbeatRequest,
    d: readonly DigestEntry[],
    post: (peer: string, frame: PostedFrame) => void,
  ): void {
    const ordered = this.out.update(d);
    const h = this.out.version;
    let full: PostedFrame | undefined;
    let c: number[] | undefined;
    /** Frames by position, by the version they change from (h: none). */
    const byPosition = new Map<number, PostedFrame>();
    for (const peer of peers) {
      const held = this.out.changeFor(peer);
      if (held === undefined) {
        full ??= postedFrame({ ...base, h, d: ordered });
        this.counters.inFull++;
        this.out.sent(peer);
        post(peer, full);
        continue;
      }
      let frame = byPosition.get(held.base);
      if (frame === undefined) {
        c ??= positions(ordered);
        const req: HeartbeatRequest = { ...base, h, c };
        if (held.change !== undefined) {
          req.b = held.base;
          if (held.change.removed.length > 0) req.x = held.change.removed;
          if (held.change.added.length > 0) req.a = held.change.added;
        }
        frame = postedFrame(req);
        byPosition.set(held.base, frame);
      }
      this.counters.byPosition++;
      this.out.sent(peer);
      post(peer, frame);
    }
  }

  /** A new connection to `peer`: it may hold nothing of this node's. */
  joined(peer: string): void {
    this.out.reset(peer);
  }

  forget(peer: string): void {
    this.out.forget(peer);
    this.in.forget(peer);
    this.asked.delete(peer);
  }
}

/** A digest by position: each member's latest notice number and the age of the news, in turn. */
function positions(d: readonly DigestEntry[]): number[] {
  const c: number[] = new Array(2 * d.length);
  for (let i = 0; i < d.length; i++) {
    const x = d[i] as DigestEntry;
    c[2 * i] = x[2];
    c[2 * i + 1] = x[3];
  }
  return c;
}
