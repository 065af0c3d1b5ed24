/**
 * Closes connections that stopped answering, in place of libp2p's connection
 * monitor: every `intervalMs` each connected peer is pinged, and the
 * connections of one that does not answer within `timeoutMs` are aborted.
 *
 * Not while heartbeats run (a staleness bound is kept here or by a member):
 * they already hear from every member several times a second, and judge its
 * silence against the bound. A ping then only costs a stream per connection,
 * and on a saturated machine a late pong closed a healthy connection: a leave
 * and a join for every member, whose work loaded the machine further.
 */
import type { PeerId } from '@libp2p/interface';
import type { Logger } from 'pino';
import type { MeshLibp2p } from './libp2p.js';

/** How often each peer is pinged, ms (libp2p's monitor: 10 s). */
export const WATCH_INTERVAL_MS = 30_000;
/** A ping unanswered this long closes the peer's connections, ms. */
export const WATCH_TIMEOUT_MS = 10_000;

export interface ConnectionWatchInit {
  readonly node: MeshLibp2p;
  /** True while heartbeats run: the watch then rests. */
  readonly heartbeatsRun: () => boolean;
  readonly logger: Logger;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
}

export class ConnectionWatch {
  private timer: NodeJS.Timeout | undefined;
  /** Pings sent and connections closed for silence (diagnostics, tests). */
  readonly counters = { pings: 0, closed: 0 };

  constructor(private readonly init: ConnectionWatchInit) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.round(), this.init.intervalMs ?? WATCH_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Pings every connected peer once, unless heartbeats run. */
  round(): void {
    if (this.init.heartbeatsRun()) return;
    const { node } = this.init;
    for (const peer of new Set(node.getConnections().map((c) => c.remotePeer))) void this.ping(peer);
  }

  private async ping(peer: PeerId): Promise<void> {
    const { node } = this.init;
    this.counters.pings++;
    try {
      await node.services.ping.ping(peer, {
        signal: AbortSignal.timeout(this.init.timeoutMs ?? WATCH_TIMEOUT_MS),
      });
    } catch (err) {
      // A peer that refuses the protocol answered all the same. Stopping, or heartbeats started
      // meanwhile (they judge silence now): nothing to close.
      if ((err as Error).name === 'UnsupportedProtocolError') return;
      if (this.timer === undefined || this.init.heartbeatsRun()) return;
      const conns = node.getConnections(peer);
      if (conns.length === 0) return;
      this.counters.closed++;
      this.init.logger.debug({ peer: peer.toString(), err: (err as Error).message }, 'peer silent: closing');
      for (const conn of conns) conn.abort(err as Error);
    }
  }
}
