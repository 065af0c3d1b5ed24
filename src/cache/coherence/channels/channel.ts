/**
 * A coherence channel: how this node hears of other nodes' invalidations
 * and tells them of its own. Redis tracking and its pub/sub fallback (one
 * channel per Redis backend, redis.ts), and the network bus (one per node,
 * network-bus.ts). What a channel hears goes to the `ChangeSink` it was given.
 */
import type { Change } from '../change.js';

/** How a channel keeps copies coherent (also a near tier's mode in `stats().near`). */
export type ChannelMode = 'tracking' | 'pubsub' | 'bus';

/**
 * `live`: notices arrive. `paused`: the channel cannot show it heard everything
 * within the staleness bound, but nothing is known lost (copies still take
 * every notice that arrives; none is served). `down`: notices may have been lost.
 */
export type LiveState = 'live' | 'paused' | 'down';

export interface CoherenceChannel {
  readonly mode: ChannelMode;
  /** False while copies kept coherent by it must not be served (`state` not `live`). */
  readonly live: boolean;
  readonly state: LiveState;
  /** Told of every change of `state`; returns the unsubscribe. */
  onLive(listener: (state: LiveState) => void): () => void;
  /** Tells the other nodes of this node's change (a channel the server feeds, tracking, sends nothing). */
  publish(scope: string, change: Change): void;
  stop(): void | Promise<void>;
}

/** The state and its listeners, for channels to share. */
export class Liveness {
  private readonly listeners = new Set<(state: LiveState) => void>();

  constructor(public state: LiveState) {}

  get live(): boolean {
    return this.state === 'live';
  }

  on(listener: (state: LiveState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sets the state; listeners hear only changes. A pause does not hide a loss already known. */
  set(state: LiveState): void {
    if (state === this.state || (state === 'paused' && this.state === 'down')) return;
    this.state = state;
    for (const l of this.listeners) l(state);
  }
}
