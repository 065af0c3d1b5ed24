/**
 * Whether this node is in touch with the network: it heard of every member
 * within a limit, and those it hears of are a majority of the members it knows.
 *
 * Each tick a member posts a heartbeat to a few members (heartbeat-digest.ts):
 * its own numbering, and a digest of what it heard of the others. A heartbeat
 * travels on the stream that carries the sender's invalidation notices, after
 * them; every piece of news carries the number of the member's latest notice:
 * once it arrives, every notice that member sent before is here too, or is
 * known to be missed (then dropped what it could touch, before anything else).
 *
 * - A member not heard of past the limit puts this node out of touch: copies
 *   kept coherent by notices must not be served (a partition, a frozen peer, a
 *   silent connection). Silent for longer, it is suspected: it no longer holds
 *   the others back, but counts against the majority until it speaks again
 *   (its connection is left alone: closing it would churn an overloaded network).
 * - A member whose connection closed after it fell silent may be alive on the
 *   other side of a partition: it counts against the majority until it returns
 *   (its heartbeat then shows what was missed) or is forgotten (then whatever its
 *   notices could have touched is treated as missed). One whose connection closed
 *   while it was heard moments ago stopped or crashed.
 * - A node alone that never had a member is in touch (there is nobody to hear).
 */
import { type DigestEntry, Rotation, tickFor } from './heartbeat-digest.js';
import { DigestRosters } from './heartbeat-rosters.js';
import { type HeartbeatRequest, type PostedFrame, postedFrame } from './wire/index.js';

/** What the heartbeats need from the network. */
export interface HeartbeatLinks {
  /** The connected members. */
  peers(): string[];
  /** Posts a frame to a member; failures are the silence the heartbeats watch for. */
  post(peer: string, frame: PostedFrame): void;
  /** This node's peer id and notice numbering. */
  numbering(): { self: string; e: string; s: number };
  /** True when a member's numbering shows notices this node missed (and remembers it). */
  missed(from: string, epoch: string, seq: number): boolean;
  /** The latest numbering known of a member (from its notices or news of it). */
  numberOf(peer: string): { e: string; s: number } | undefined;
  /** A member's wall clock when it sent a heartbeat (its clock offset is measured from it). */
  observeClock(peer: string, sent: number): void;
  /**
   * Members `via` heard of that this node has no connection to (never met, or
   * lost): past the few dozen members a discovery lookup finds, this is how the
   * membership completes, and how a lost connection comes back.
   */
  introduce(peers: readonly string[], via: string): void;
}

export interface HeartbeatEvents {
  /** In touch or not any more. */
  touch(inTouch: boolean): void;
  /** Notices of `from` were missed, or can no longer be accounted for (`from` forgotten). */
  missed(from: string): void;
}

export class Heartbeats {
  /** performance.now() the freshest news of each connected member dates from (or its first join). */
  private readonly heard = new Map<string, number>();
  private readonly rotation = new Rotation();
  private readonly rosters = new DigestRosters();
  /** Members that left without a goodbye, and when. */
  private readonly gone = new Map<string, number>();
  /** Every member ever heard from (a returning one must send a heartbeat before it counts). */
  private readonly known = new Set<string>();
  /** The bound each member keeps (ms): the tick serves the tightest. */
  private readonly wants = new Map<string, number>();
  private boundMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private tickMs = 0;
  private lastTick = 0;
  private running = false;
  /** Members suspected at the last check. */
  private suspects = 0;
  inTouch = true;
  /** Heartbeats posted and received (diagnostics, benchmarks). */
  readonly counters = { sent: 0, received: 0, lapses: 0, suspected: 0 };

  /** Digests sent in full (a roster) and by position. */
  get digests(): Readonly<{ inFull: number; byPosition: number }> {
    return this.rosters.counters;
  }

  constructor(
    private readonly links: HeartbeatLinks,
    private readonly events: HeartbeatEvents,
  ) {}

  /**
   * Asks to be told within `boundMs` when a member falls silent (0: this node
   * needs no heartbeats; it still sends those the others ask for).
   */
  require(boundMs: number): void {
    this.boundMs = boundMs;
    this.reschedule();
    this.tick();
  }

  /** Not heard of for longer than this, a member puts this node out of touch. */
  private get lapseMs(): number {
    // One tick for the check that notices it, a tenth of the bound for the way.
    return this.boundMs - this.tickFor(this.boundMs) - Math.floor(this.boundMs / 10);
  }

  private tickFor(boundMs: number): number {
    return tickFor(boundMs, this.heard.size);
  }

  /** Silent longer than this, a member is suspected (the rest of the network goes on without it). */
  private get suspectMs(): number {
    return Math.max(2 * this.boundMs, 2_000);
  }

  /** A member gone without a goodbye is forgotten after this long. */
  private get forgetMs(): number {
    return Math.max(10 * this.boundMs, 10_000);
  }

  start(): void {
    this.running = true;
    this.reschedule();
  }

  /**
   * True while this node posts heartbeats (it or a member keeps a bound): every
   * member then hears this node, and its clock, within a rotation of ticks.
   */
  get sending(): boolean {
    return this.running && this.tickMs > 0;
  }

  /** Says goodbye to every member and stops. */
  stop(): void {
    if (this.running) {
      const { e, s } = this.links.numbering();
      const bye = postedFrame({ t: 'hb', e, s, w: 0, bye: 1 });
      for (const peer of this.links.peers()) this.links.post(peer, bye);
    }
    this.running = false;
    clearInterval(this.timer);
    this.timer = undefined;
    this.heard.clear();
    this.gone.clear();
    this.wants.clear();
    this.tickMs = 0;
    this.set(true);
  }

  joined(peer: string): void {
    this.gone.delete(peer);
    // A newcomer cannot have sent this node a notice yet; a returning member holds the others back
    // (silent, not suspected) until its heartbeat shows its numbering.
    const now = performance.now();
    this.heard.set(peer, this.known.has(peer) ? now - this.lapseMs - 1 : now);
    this.known.add(peer);
    this.rosters.joined(peer);
    this.reschedule();
    // The newcomer hears of everyone at once.
    this.send([peer]);
    this.check();
  }

  left(peer: string): void {
    const at = this.heard.get(peer);
    this.heard.delete(peer);
    this.wants.delete(peer);
    this.rosters.forget(peer);
    // Closed while heard moments ago: a stop or a crash. Silent first: maybe a partition, alive elsewhere.
    const silent = at === undefined ? this.known.has(peer) : performance.now() - at > this.lapseMs;
    if (silent) this.gone.set(peer, performance.now());
    this.reschedule();
    this.check();
  }

  receive(req: HeartbeatRequest, from: string): void {
    this.counters.received++;
    if (req.at !== undefined) this.links.observeClock(from, req.at);
    if (req.bye === 1) {
      this.heard.delete(from);
      this.wants.delete(from);
      this.gone.delete(from);
      this.known.delete(from);
      this.rosters.forget(from);
      this.reschedule();
      this.check();
      return;
    }
    // A roster is kept even before the sender's join is seen: later digests go by it.
    const read = this.rosters.read(req, from);
    if (read.answer) this.send([from], read.ask);
    // Before its join is seen (identify comes later), a heartbeat counts for nothing yet.
    if (!this.heard.has(from) && !this.links.peers().includes(from)) return;
    this.known.add(from);
    const now = performance.now();
    this.news(from, req.e, req.s, now);
    const self = this.selfId();
    if (read.d !== undefined) {
      const strangers: string[] = [];
      for (const [peer, e, s, age] of read.d)
        if (peer !== self && peer !== from && !this.news(peer, e, s, now - age)) strangers.push(peer);
      if (strangers.length > 0) this.links.introduce(strangers, from);
    }
    if (this.wants.get(from) !== req.w) {
      this.wants.set(from, req.w);
      this.reschedule();
    }
    if (!this.inTouch) this.check();
  }

  /** True when member `peer` was not heard of within the limit (a write to it would wait in vain). */
  silent(peer: string): boolean {
    if (this.boundMs === 0) return false;
    const at = this.heard.get(peer);
    return at !== undefined && performance.now() - at > this.lapseMs;
  }

  /**
   * News of a member dated `at`: missed notices first (dropped before this node is back in touch).
   * False when this node has no connection to `peer`: a stranger's news counts for nothing, and a
   * member this node lost its connection to only shows what was missed; either is one to meet.
   */
  private news(peer: string, e: string, s: number, at: number): boolean {
    const heard = this.heard.get(peer);
    if (heard === undefined && !this.known.has(peer)) return false;
    // A member this node lost its connection to may be alive elsewhere: its numbering still shows
    // the notices this node missed.
    if (this.links.missed(peer, e, s)) this.events.missed(peer);
    if (heard === undefined) return false;
    if (at > heard) this.heard.set(peer, at);
    return true;
  }

  private selfId(): string {
    return this.links.numbering().self;
  }

  /** The tick of the tightest bound this node or a member keeps, for the size of the network; else none. */
  private reschedule(): void {
    let bound = this.boundMs;
    for (const w of this.wants.values()) if (w > 0 && (bound === 0 || w < bound)) bound = w;
    const tick = bound === 0 ? 0 : this.tickFor(bound);
    if (!this.running || tick === this.tickMs) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.tickMs = tick;
    if (tick === 0) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), tick);
    this.timer.unref();
  }

  private tick(): void {
    const now = performance.now();
    const late = now - this.lastTick > 1.5 * this.tickMs;
    this.lastTick = now;
    this.send(this.rotation.pick(this.links.peers()));
    // A late tick is this process's own delay: heartbeats may wait unread, so they are read first.
    if (late) setImmediate(() => this.check());
    else this.check(now);
  }

  /**
   * Posts this node's heartbeat, with what it heard of the others, to `peers` (heartbeat-rosters.ts).
   * `askRoster`: this node does not hold the roster of the digest a receiver sent it by position.
   */
  private send(peers: readonly string[], askRoster = false): void {
    if (!this.running || this.tickMs === 0 || peers.length === 0) return;
    const now = performance.now();
    const d: DigestEntry[] = [];
    // Old news helps nobody: only members heard of within the suspicion limit.
    for (const [peer, at] of this.heard) {
      const n = this.links.numberOf(peer);
      const age = Math.round(now - at);
      if (n !== undefined && age >= 0 && age < this.suspectMs) d.push([peer, n.e, n.s, age]);
    }
    const { e, s } = this.links.numbering();
    // The wall clock goes along: every member measures this node's clock offset from it.
    const req: HeartbeatRequest = { t: 'hb', e, s, w: this.boundMs, at: Date.now() };
    if (askRoster) req.r = 1;
    this.counters.sent += peers.length;
    this.rosters.post(peers, req, d, (peer, frame) => this.links.post(peer, frame));
  }

  /** Recomputes whether this node is in touch. */
  private check(now = performance.now()): void {
    if (this.boundMs === 0) {
      this.set(true);
      return;
    }
    let fresh = 0;
    let suspected = 0;
    let members = 0;
    for (const peer of this.links.peers()) {
      members++;
      const at = this.heard.get(peer);
      const age = at === undefined ? Number.POSITIVE_INFINITY : now - at;
      if (age <= this.lapseMs) fresh++;
      else if (age > this.suspectMs) suspected++;
    }
    if (suspected > this.suspects) this.counters.suspected += suspected - this.suspects;
    this.suspects = suspected;
    // Silent, not yet suspected: it holds everyone back. Suspected, and gone: they count against the majority.
    const majority = (fresh + 1) * 2 > members + this.gone.size + 1;
    // Forgetting a member never brings back a copy it may have invalidated: its notices count as missed.
    for (const [peer, at] of this.gone) {
      if (now - at <= this.forgetMs) continue;
      this.gone.delete(peer);
      this.known.delete(peer);
      this.events.missed(peer);
    }
    this.set(fresh + suspected === members && majority);
  }

  private set(inTouch: boolean): void {
    if (inTouch === this.inTouch) return;
    this.inTouch = inTouch;
    if (!inTouch) this.counters.lapses++;
    this.events.touch(inTouch);
  }
}
