/**
 * Heartbeat digests by position. A digest names every member a node heard of
 * (~90 bytes each: peer id, notice epoch, latest number, age), so at 100
 * members every heartbeat carried ~9 KB, and the network as a whole encoded,
 * encrypted and parsed that many times a second. The names change rarely:
 * once a member holds the sender's roster (the members, in order, with their
 * epochs), a digest needs only each one's latest number and age, ~8 bytes.
 *
 * A roster goes in full with its version whenever it changes, to a member new
 * on this connection, and to one that asks (`r`: it did not hold the version a
 * digest went by, e.g. its frame was lost with a stream). A member whose
 * heartbeats carry no version (an earlier release) gets every digest in full.
 */
import type { DigestEntry } from './heartbeat-digest.js';
import { type HeartbeatRequest, type PostedFrame, postedFrame } from './wire/index.js';

/**
 * The members a sender's digest names, in order, with their notice epochs.
 * Once a receiver holds it, a digest needs only each member's latest notice
 * number and the age of the news, by position: about 8 bytes a member instead
 * of ~90, which is what keeps the digest cheap as the network grows. The
 * version changes with the roster; the sender's epoch tells a restarted
 * sender's version 1 from the last one's.
 */
interface Roster {
  readonly version: number;
  readonly peers: readonly string[];
  readonly epochs: readonly string[];
}

/**
 * The sending side: this node's roster, a new version whenever the members its
 * digest names (or their epochs) change, and which version each member holds.
 */
class RosterOut {
  private peers: string[] = [];
  private epochs: string[] = [];
  version = 0;
  /** Version each member was last sent in full. */
  private readonly held = new Map<string, number>();
  /** Members whose heartbeats show they read rosters (those of an earlier release get every digest in full). */
  private readonly readers = new Set<string>();

  /** Takes this tick's digest: a new version if it names other members, or other epochs, than the last. */
  update(entries: readonly DigestEntry[]): void {
    let same = entries.length === this.peers.length;
    for (let i = 0; same && i < entries.length; i++) {
      const [peer, epoch] = entries[i] as DigestEntry;
      same = peer === this.peers[i] && epoch === this.epochs[i];
    }
    if (same) return;
    this.peers = entries.map((x) => x[0]);
    this.epochs = entries.map((x) => x[1]);
    this.version++;
  }

  /** True when `peer` holds the current roster: its digest can go by position. */
  holds(peer: string): boolean {
    return this.readers.has(peer) && this.held.get(peer) === this.version;
  }

  /** The current roster went to `peer` in full. */
  sent(peer: string): void {
    this.held.set(peer, this.version);
  }

  /** `peer` reads rosters (its heartbeats carry one's version). */
  reads(peer: string): void {
    this.readers.add(peer);
  }

  /** `peer` may not hold the roster (it asked, or the connection is new): the next digest goes in full. */
  reset(peer: string): void {
    this.held.delete(peer);
  }

  forget(peer: string): void {
    this.held.delete(peer);
    this.readers.delete(peer);
  }
}

/** The receiving side: the roster each member last sent in full. */
class RosterIn {
  private readonly rosters = new Map<string, Roster & { epoch: string }>();

  /** A digest in full from `from` (epoch `epoch`), roster version `version`. */
  learn(from: string, epoch: string, version: number, d: readonly DigestEntry[]): void {
    this.rosters.set(from, {
      epoch,
      version,
      peers: d.map((x) => x[0]),
      epochs: d.map((x) => x[1]),
    });
  }

  /**
   * A digest by position (`c`: notice number and age of each member, in turn) as entries;
   * undefined when this node does not hold that roster (the sender is asked for it).
   */
  expand(from: string, epoch: string, version: number, c: readonly number[]): DigestEntry[] | undefined {
    const r = this.rosters.get(from);
    if (r === undefined || r.epoch !== epoch || r.version !== version || c.length !== 2 * r.peers.length)
      return undefined;
    const out: DigestEntry[] = new Array(r.peers.length);
    for (let i = 0; i < r.peers.length; i++)
      out[i] = [r.peers[i] as string, r.epochs[i] as string, c[2 * i] as number, c[2 * i + 1] as number];
    return out;
  }

  forget(from: string): void {
    this.rosters.delete(from);
  }
}

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
    const d = req.c === undefined ? undefined : this.in.expand(from, req.e, req.h, req.c);
    const ask = req.c !== undefined && d === undefined && this.asked.get(from) !== req.h;
    if (ask) this.asked.set(from, req.h);
    return { d, answer: ask || req.r === 1, ask };
  }

  /** Posts `base` with digest `d` to each of `peers`: by position where it holds the roster, else in full. */
  post(
    peers: readonly string[],
    base: HeartbeatRequest,
    d: readonly DigestEntry[],
    post: (peer: string, frame: PostedFrame) => void,
  ): void {
    this.out.update(d);
    const h = this.out.version;
    let full: PostedFrame | undefined;
    let byPosition: PostedFrame | undefined;
    for (const peer of peers) {
      if (this.out.holds(peer)) {
        byPosition ??= postedFrame({ ...base, h, c: positions(d) });
        this.counters.byPosition++;
        post(peer, byPosition);
      } else {
        full ??= postedFrame({ ...base, h, d: [...d] });
        this.counters.inFull++;
        this.out.sent(peer);
        post(peer, full);
      }
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
