/**
 * A coherence channel: how this node hears of other nodes' invalidations
 * and tells them of its own. Redis tracking and its pub/sub fallback (one
 * channel per Redis backend, redis.ts), and the network bus (one per node,
 * network-bus.ts). What a channel hears goes to the `ChangeSink` it was given.
 */
import type { Change } from '../change.js';

/** How a channel keeps copies coherent (also a near tier's mode in `stats().near`). */
export type ChannelMode = 'tracking' | 'pubsub' | 'bus';

export interface CoherenceChannel {
  readonly mode: ChannelMode;
  /** False while notices may be lost (a connection down): copies kept coherent by it must not be served. */
  readonly live: boolean;
  /** Told of every change of `live`; returns the unsubscribe. */
  onLive(listener: (live: boolean) => void): () => void;
  /** Tells the other nodes of this node's change (a channel the server feeds, tracking, sends nothing). */
  publish(scope: string, change: Change): void;
  stop(): void | Promise<void>;
}

/** The `live` state and its listeners, for channels to share. */
export class Liveness {
  private readonly listeners = new Set<(live: boolean) => void>();

  constructor(public live: boolean) {}

  on(listener: (live: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sets the state; listeners hear only changes. */
  set(live: boolean): void {
    if (live === this.live) return;
    this.live = live;
    for (const l of this.listeners) l(live);
  }
}
