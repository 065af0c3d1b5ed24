/**
 * One Redis data connection tracked for the near tier: a subscriber
 * connection on `__redis__:invalidate`, and `CLIENT TRACKING on REDIRECT <id>
 * BCAST PREFIX <p> NOLOOP` on the data connection. Up while both are; its
 * owner (redis.ts) hears every change and every notice.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LiveState } from './channel.js';
import { RedisHeartbeat } from './redis-heartbeat.js';

/** What a tracker tells the channel that owns it. */
export interface TrackerOwner {
  readonly logger: Logger;
  /** The Redis keys tracked. */
  readonly trackedPrefix: string;
  /** A tracking notice: the Redis keys written or deleted by another client (null: the whole db). */
  tracked(message: Buffer[] | Buffer | null): void;
  /** A tracker went up or down. */
  changed(): void;
  /** The staleness bound, ms (0: no heartbeat). */
  readonly boundMs: number;
  /** The server refused CLIENT TRACKING. */
  refused(err: unknown): void;
}

/** The channel Redis sends tracking invalidations on (RESP2 redirect). */
const TRACKING_CHANNEL = '__redis__:invalidate';

/** True for an error saying the server will not do CLIENT TRACKING at all (not a lost connection). */
function refused(err: unknown): boolean {
  return /unknown (sub)?command|NOPERM|not allowed|ERR syntax|unknown option/i.test(
    (err as Error)?.message ?? '',
  );
}

/** One data connection and the subscriber its invalidations are redirected to. */
export class Tracker {
  readonly name = `meshcache-near-${randomBytes(6).toString('hex')}`;
  /** Tracking is on, redirected to a subscribed connection. */
  up = false;
  private readonly heartbeat: RedisHeartbeat | undefined;
  private sub: Redis | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly detach: Array<() => void> = [];

  constructor(
    readonly data: Redis,
    private readonly owner: TrackerOwner,
  ) {
    this.heartbeat =
      owner.boundMs === 0
        ? undefined
        : new RedisHeartbeat(
            () => [this.sub?.ping() ?? Promise.reject(new Error('no subscriber')), this.data.ping()],
            owner.boundMs,
            { lapse: () => owner.changed(), resume: () => owner.changed() },
          );
  }

  /** Down while tracking is off; paused while the connections are not shown to deliver within the bound. */
  get state(): LiveState {
    return !this.up ? 'down' : this.heartbeat?.lapsed === true ? 'paused' : 'live';
  }

  async start(): Promise<void> {
    const sub = this.data.duplicate({
      connectionName: this.name,
      lazyConnect: true,
      enableOfflineQueue: true,
      autoResubscribe: true,
    });
    this.sub = sub;
    sub.on('messageBuffer', (channel: Buffer, message: Buffer[] | Buffer | null) => {
      if (channel.toString() === TRACKING_CHANNEL) this.owner.tracked(message);
    });
    sub.on('error', () => {});
    const down = () => this.setDown();
    const resync = () => this.resync();
    sub.on('close', down);
    sub.on('ready', resync);
    this.data.on('close', down);
    this.data.on('ready', resync);
    this.detach.push(() => {
      this.data.off('close', down);
      this.data.off('ready', resync);
    });
    try {
      await sub.connect();
      await sub.subscribe(TRACKING_CHANNEL);
    } catch (err) {
      this.owner.logger.debug(
        { err: (err as Error).message },
        'near tier: tracking subscriber not connected yet',
      );
    }
    await this.resync();
    this.heartbeat?.start();
  }

  private setDown(): void {
    if (this.closed) return;
    this.up = false;
    this.owner.changed();
  }

  /** Turns tracking on again (serialized: both connections may come back at once). */
  resync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.trackNow()).catch(() => {});
    return this.syncing;
  }

  private async trackNow(): Promise<void> {
    const sub = this.sub;
    if (this.closed || sub === undefined || sub.status !== 'ready') return;
    if (this.data.status !== 'ready' && this.data.status !== 'wait') return;
    const startedAt = performance.now();
    try {
      // Idempotent; covers a subscriber whose first SUBSCRIBE failed (Redis was down at start).
      await sub.subscribe(TRACKING_CHANNEL);
      const id = await this.subscriberId();
      if (id === undefined) return;
      await this.data.call('CLIENT', 'TRACKING', 'off');
      await this.data.call(
        'CLIENT',
        'TRACKING',
        'on',
        'REDIRECT',
        id,
        'BCAST',
        'PREFIX',
        this.owner.trackedPrefix,
        'NOLOOP',
      );
      if (this.closed) return;
      this.up = true;
      this.heartbeat?.vouch(startedAt);
      this.owner.changed();
    } catch (err) {
      if (refused(err)) this.owner.refused(err);
      else this.owner.logger.debug({ err: (err as Error).message }, 'near tier: tracking not on yet');
    }
  }

  /** The subscriber's client id, once it is subscribed (a RESP2 redirect needs a subscribed client). */
  private async subscriberId(): Promise<string | undefined> {
    for (let attempt = 0; attempt < 50 && !this.closed; attempt++) {
      const list = (await this.data.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      for (const line of list.split('\n')) {
        if (!line.includes(`name=${this.name} `)) continue;
        const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
        const subs = Number(/\ssub=(\d+)/.exec(line)?.[1] ?? 0);
        if (id !== undefined && subs > 0) return id;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.heartbeat?.stop();
    for (const d of this.detach) d();
    const sub = this.sub;
    this.sub = undefined;
    if (this.data.status === 'ready') await this.data.call('CLIENT', 'TRACKING', 'off').catch(() => {});
    sub?.disconnect();
  }
}
