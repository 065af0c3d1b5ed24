/**
 * Peer clock offsets. Every DHT put and every control message a node sends
 * carries its wall clock at sending (`sent`); the receiver measures
 * `offset = sent - now` per peer (the peer's clock error, minus the transit
 * time; the highest sample of the last 30 s is kept). Within `toleranceMs` the peer's timestamps are taken as they are;
 * beyond it they are re-based into the receiver's clock (shifted by the
 * offset), and the peer is reported with a warning, at most once per peer per
 * `warnIntervalMs`. A timestamp from a peer whose offset is not known is never
 * trusted to be more than `toleranceMs` ahead of the local clock (see
 * docs/dht.md, "Clocks").
 */
import type { Logger } from 'pino';

export const DEFAULT_CLOCK_TOLERANCE_MS = 1_000;
const WARN_INTERVAL_MS = 60_000;
const MAX_PEERS = 10_000;
/** How long the best (highest) offset sample of a peer is kept before a lower one replaces it, ms. */
const SAMPLE_WINDOW_MS = 30_000;

interface PeerClock {
  /** Last measured offset, ms (positive: the peer's clock is ahead). */
  offset: number;
  measuredAt: number;
  warnedAt: number;
}

export class ClockWatch {
  /** Largest clock difference to a peer taken as harmless, ms. */
  toleranceMs = DEFAULT_CLOCK_TOLERANCE_MS;
  warnIntervalMs = WARN_INTERVAL_MS;
  /** How many times a peer was reported as skewed (all peers). */
  warnings = 0;
  private readonly peers = new Map<string, PeerClock>();

  constructor(public logger?: Logger) {}

  /**
   * Records that `peer` sent a message at its clock time `sent`, received now;
   * returns the shift to add to that peer's timestamps to bring them into the
   * local clock (0 when within the tolerance).
   */
  observe(peer: string, sent: number, now = Date.now()): number {
    if (peer === '' || !Number.isFinite(sent)) return 0;
    const sample = sent - now;
    let p = this.peers.get(peer);
    if (p === undefined) {
      if (this.peers.size >= MAX_PEERS) this.peers.clear();
      p = { offset: sample, measuredAt: now, warnedAt: Number.NEGATIVE_INFINITY };
      this.peers.set(peer, p);
    } else if (sample >= p.offset || now - p.measuredAt > SAMPLE_WINDOW_MS || now < p.measuredAt) {
      // Transit time only lowers a sample: the highest recent one is the best estimate.
      p.offset = sample;
      p.measuredAt = now;
    }
    const offset = p.offset;
    if (Math.abs(offset) <= this.toleranceMs) return 0;
    if (now - p.warnedAt >= this.warnIntervalMs || now < p.warnedAt) {
      p.warnedAt = now;
      this.warnings++;
      this.logger?.warn(
        { peer, offsetMs: Math.round(offset), toleranceMs: this.toleranceMs },
        `clock of peer ${peer} is off by ${Math.round(offset)} ms (tolerance ${this.toleranceMs} ms): its timestamps are re-based to this node's clock`,
      );
    }
    return -offset;
  }

  /** The shift for `peer`'s timestamps from its last measured offset (0 within the tolerance); undefined when never measured. */
  shiftOf(peer: string): number | undefined {
    const p = this.peers.get(peer);
    if (p === undefined) return undefined;
    return Math.abs(p.offset) <= this.toleranceMs ? 0 : -p.offset;
  }

  /** Last measured offsets, ms, by peer id. */
  offsets(): Record<string, number> {
    return Object.fromEntries([...this.peers].map(([id, p]) => [id, p.offset]));
  }
}
