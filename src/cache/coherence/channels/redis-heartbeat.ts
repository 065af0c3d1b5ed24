/**
 * Shows that Redis connections still deliver what the server sends them. The
 * server answers a connection's commands in order, after every notice it pushed
 * on that connection before: the answer to a PING sent at t0 proves each notice
 * sent before t0 has arrived. Copies stay vouched for until t0 plus the bound;
 * past it without a newer answer, `lapse` (a silent connection, a partition);
 * the next answer in time, `resume`.
 */

export interface HeartbeatEvents {
  lapse(): void;
  resume(): void;
}

/** Shortest interval between two pings, ms. */
const MIN_INTERVAL_MS = 25;

export class RedisHeartbeat {
  lapsed = false;
  private vouchedAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** Send time of the round still waiting for its answers (undefined: none). */
  private waiting: number | undefined;
  private readonly limitMs: number;
  private readonly intervalMs: number;

  constructor(
    /** One PING per watched connection, sent now. */
    private readonly ping: () => Array<Promise<unknown>>,
    private readonly boundMs: number,
    private readonly events: HeartbeatEvents,
  ) {
    this.intervalMs = Math.max(MIN_INTERVAL_MS, Math.floor(boundMs / 4));
    // A tenth of the bound for a late timer.
    this.limitMs = boundMs - Math.floor(boundMs / 10);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.beat(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.deadline);
    this.timer = undefined;
    this.deadline = undefined;
  }

  /** Everything the server sent before `at` (performance.now()) has arrived. */
  vouch(at: number): void {
    if (at <= this.vouchedAt) return;
    this.vouchedAt = at;
    const left = this.limitMs - (performance.now() - at);
    if (left <= 0) return;
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => {
      this.lapsed = true;
      this.events.lapse();
    }, left);
    this.deadline.unref();
    if (this.lapsed) {
      this.lapsed = false;
      this.events.resume();
    }
  }

  private beat(): void {
    const now = performance.now();
    // One round at a time, unless the one waiting is past saving (its answer would vouch for nothing).
    if (this.waiting !== undefined && now - this.waiting < this.boundMs) return;
    this.waiting = now;
    Promise.all(this.ping()).then(
      () => {
        if (this.waiting === now) this.waiting = undefined;
        this.vouch(now);
      },
      () => {
        if (this.waiting === now) this.waiting = undefined;
      },
    );
  }
}
