/**
 * The control messages and invalidation notices other members send (on the
 * control topic, and straight over the direct protocol): each delivered once
 * however many copies arrive, notices numbered per publisher so that a gap is
 * seen (./invalidations.ts), handlers isolated from each other's errors.
 */
import type { Logger } from 'pino';
import { bump, controlKind, type MessageCounts, newCounts } from './counters.js';
import {
  INVALIDATION_MARK,
  type InvalidationHandler,
  type InvalidationNotice,
  InvalidationSequencer,
} from './invalidations.js';

/** Receives a control message (an object) published by another node of the network. */
export type ControlHandler = (message: Record<string, unknown>, fromPeer: string) => void;

/** Copies of one message remembered this long, at most this many (gossip and direct copies). */
const SEEN_MS = 60_000;
const SEEN_MAX = 10_000;

export class ControlInbox {
  private readonly controlHandlers = new Set<ControlHandler>();
  private readonly invalidationHandlers = new Set<InvalidationHandler>();
  private readonly sequencer = new InvalidationSequencer();
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly logger: () => Logger,
    /** Messages delivered, per kind (counters.ts). */
    private readonly counts: MessageCounts = newCounts(),
  ) {}

  /** Delivers a message once to the control handlers, or a notice to the invalidation handlers. */
  deliver(body: Record<string, unknown>, from: string): void {
    const id = `${from}|${JSON.stringify(body)}`;
    const now = Date.now();
    if (this.seen.has(id)) return;
    this.seen.set(id, now);
    bump(this.counts.received, controlKind(body));
    if (this.seen.size > SEEN_MAX) {
      for (const [k, at] of this.seen)
        if (now - at > SEEN_MS || this.seen.size > SEEN_MAX / 2) this.seen.delete(k);
    }
    if (body.c === INVALIDATION_MARK) {
      const got = this.sequencer.unwrap(body, from);
      if (got === undefined) return;
      const meta = { from, gap: got.gap };
      for (const handler of this.invalidationHandlers) this.safely(() => handler(got.notice, meta));
      return;
    }
    for (const handler of this.controlHandlers) this.safely(() => handler(body, from));
  }

  /**
   * Numbers a notice of this node's; undefined when nobody would receive it (the number
   * is used anyway, so members that come back see the gap).
   */
  number(notice: InvalidationNotice, anyoneListening: boolean): Record<string, unknown> | undefined {
    if (!anyoneListening) {
      this.sequencer.skip();
      return undefined;
    }
    return this.sequencer.wrap(notice);
  }

  /** This node's notice numbering, for its heartbeats. */
  numbering(): { e: string; s: number } {
    return { e: this.sequencer.epoch, s: this.sequencer.latest };
  }

  /** A member's numbering from its heartbeat: true when notices of it were missed. */
  missed(from: string, epoch: string, seq: number): boolean {
    return this.sequencer.observe(from, epoch, seq);
  }

  /** The latest numbering known of member `peer`. */
  numberOf(peer: string): { e: string; s: number } | undefined {
    return this.sequencer.latestOf(peer);
  }

  onControl(handler: ControlHandler): () => void {
    this.controlHandlers.add(handler);
    return () => this.controlHandlers.delete(handler);
  }

  onInvalidation(handler: InvalidationHandler): () => void {
    this.invalidationHandlers.add(handler);
    return () => this.invalidationHandlers.delete(handler);
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger().error({ err }, 'network message handler failed');
    }
  }
}
