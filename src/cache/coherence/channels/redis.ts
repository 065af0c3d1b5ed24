/**
 * Keeps a near tier coherent with Redis, from the server: server-assisted
 * client-side caching (`CLIENT TRACKING on REDIRECT <id> BCAST PREFIX <p> NOLOOP`).
 *
 * - One tracker per data connection (the single server's, or each master's of
 *   a Cluster): a subscriber connection on `__redis__:invalidate`, and tracking
 *   turned on on the data connection, redirected to the subscriber. A write or
 *   a delete by any client (another node, a script, redis-cli) under the
 *   tracked prefix sends the key: the near copy is dropped. NOLOOP: this node's
 *   own writes do not come back; the caching layer updates its own tier.
 * - When a subscriber or a data connection drops, the notices sent meanwhile
 *   are lost: the tier stops serving at once and is flushed when tracking is on
 *   again (on the connections' `ready`).
 * - A server that refuses CLIENT TRACKING (Redis < 6, a proxy, an ACL): the
 *   nodes publish their own invalidations on a pub/sub channel instead
 *   (`pubsub` mode; writes by other clients are then not seen: the tier relies
 *   on `maxAgeSeconds` for those). The mode is logged and shown in `stats().near`.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConnection } from '../../backends/backend.js';
import { type Change, type ChangeSink, revokeChange } from '../change.js';
import { type CoherenceChannel, Liveness, type LiveState } from './channel.js';
import { parsePubsub } from './pubsub-notice.js';
import { RedisHeartbeat } from './redis-heartbeat.js';
import { Tracker, type TrackerOwner } from './redis-tracker.js';

export class RedisChannel implements CoherenceChannel, TrackerOwner {
  mode: 'tracking' | 'pubsub';
  private readonly liveness = new Liveness('down');
  /** The Redis keys tracked: the backend's keyPrefix + the node's scope root (`cache:<network>/`). */
  readonly trackedPrefix: string;
  private readonly trackers = new Map<Redis, Tracker>();
  private pubsubSub: Redis | Cluster | undefined;
  private readonly channel: string;
  private readonly self = randomBytes(6).toString('hex');
  private closed = false;
  private detachCluster: (() => void) | undefined;

  constructor(
    private readonly connection: RedisConnection,
    scopeRoot: string,
    /** The near tier this channel keeps coherent. */
    private readonly tier: ChangeSink,
    readonly logger: Logger,
    want: 'auto' | 'tracking' | 'pubsub',
    /** The staleness bound, ms: heartbeats on the connections that carry notices (0: none). */
    readonly boundMs = 0,
  ) {
    this.trackedPrefix = connection.keyPrefix + scopeRoot;
    this.channel = `${this.trackedPrefix}__meshcache:near`;
    this.mode = want === 'pubsub' ? 'pubsub' : 'tracking';
    this.wantTracking = want;
  }

  private readonly wantTracking: 'auto' | 'tracking' | 'pubsub';

  get live(): boolean {
    return this.liveness.live;
  }

  get state(): LiveState {
    return this.liveness.state;
  }

  onLive(listener: (state: LiveState) => void): () => void {
    return this.liveness.on(listener);
  }

  async start(): Promise<void> {
    if (this.mode === 'pubsub') return this.startPubsub();
    const client = this.connection.client as Redis | Cluster;
    if (this.connection.cluster) {
      const cluster = client as Cluster;
      const reconcile = () => void this.reconcile(cluster.nodes('master'));
      cluster.on('refresh', reconcile);
      this.detachCluster = () => cluster.off('refresh', reconcile);
      await this.reconcile(cluster.nodes('master'));
    } else {
      await this.reconcile([client as Redis]);
    }
    if (this.mode !== 'tracking') return;
    if (this.live) this.saidLive();
    else
      this.logger.warn(
        { prefix: this.trackedPrefix },
        'near tier: Redis client tracking is not on (Redis unreachable); near copies are not served until it is',
      );
  }

  /** Said once, when tracking is first on (at start, or when Redis comes up later). */
  private saidLive(): void {
    if (this.toldLive) return;
    this.toldLive = true;
    this.logger.info(
      { prefix: this.trackedPrefix, connections: this.trackers.size },
      'near tier: Redis client tracking (BCAST, NOLOOP) keeps it coherent',
    );
  }

  private toldLive = false;

  /** Tracks every current master (cluster) or the one connection; stops trackers of departed ones. */
  private async reconcile(nodes: Redis[]): Promise<void> {
    if (this.closed || this.mode !== 'tracking') return;
    const wanted = new Set(nodes);
    for (const [conn, t] of this.trackers) {
      if (!wanted.has(conn)) {
        this.trackers.delete(conn);
        void t.stop();
      }
    }
    const added: Tracker[] = [];
    for (const conn of nodes) {
      if (this.trackers.has(conn)) continue;
      const t = new Tracker(conn, this);
      this.trackers.set(conn, t);
      added.push(t);
    }
    this.changed();
    await Promise.all(added.map((t) => t.start()));
  }

  /** Called when a tracker goes up or down: the tier serves only while every tracker is up. */
  changed(): void {
    if (this.closed || this.mode !== 'tracking') return;
    const states = [...this.trackers.values()].map((t) => t.state);
    const state: LiveState =
      states.length === 0 || states.includes('down') ? 'down' : states.includes('paused') ? 'paused' : 'live';
    const was = this.liveness.state;
    this.liveness.set(state);
    if (state === 'live') this.saidLive();
    else if (was === 'live' && state === 'down')
      this.logger.warn(
        'near tier: a Redis tracking connection is down; near copies are not served until it is back',
      );
    else if (was === 'live')
      this.logger.warn(
        { boundMs: this.boundMs },
        'near tier: Redis did not answer within the staleness bound; near copies are not served until it does',
      );
  }

  /** A tracking notice: the Redis keys written or deleted by another client (null: the whole db). */
  tracked(message: Buffer[] | Buffer | null): void {
    if (message === null) {
      this.tier.flush('Redis flushed the database');
      return;
    }
    const cut = this.connection.keyPrefix.length;
    const keys = Array.isArray(message) ? message : [message];
    this.tier.apply('', { op: 'delete', keys: keys.map((k) => k.toString().slice(cut)) });
  }

  /** The server refused CLIENT TRACKING: fall back to pub/sub (mode `auto`), else stay off. */
  refused(err: unknown): void {
    if (this.mode !== 'tracking' || this.closed) return;
    if (this.wantTracking === 'tracking') {
      this.logger.error(
        { err: (err as Error).message },
        'near tier: the Redis server refuses CLIENT TRACKING; near copies are not served',
      );
      return;
    }
    this.mode = 'pubsub';
    this.logger.warn(
      { err: (err as Error).message, channel: this.channel },
      'near tier: the Redis server refuses CLIENT TRACKING; falling back to a pub/sub channel of meshcache invalidations (writes by other clients are not seen)',
    );
    const trackers = [...this.trackers.values()];
    this.trackers.clear();
    for (const t of trackers) void t.stop();
    void this.startPubsub();
  }

  private async startPubsub(): Promise<void> {
    const client = this.connection.client as Redis | Cluster;
    const sub = client.duplicate() as Redis | Cluster;
    this.pubsubSub = sub;
    sub.on('error', () => {});
    sub.on('close', () => !this.closed && this.liveness.set('down'));
    sub.on('ready', () => !this.closed && !this.live && void this.pubsubReady(sub));
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.onPubsub(message);
    });
    try {
      if (sub.status === 'wait') await sub.connect();
      await this.pubsubReady(sub);
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'near tier: pub/sub subscriber not connected yet');
    }
    this.logger.info(
      { channel: this.channel },
      'near tier: Redis pub/sub of meshcache invalidations keeps it coherent',
    );
  }

  private async pubsubReady(sub: Redis | Cluster): Promise<void> {
    const at = performance.now();
    await sub.subscribe(this.channel);
    if (this.closed) return;
    if (this.boundMs > 0 && this.pubsubBeat === undefined) {
      // The answer to a PING on the subscriber comes after every message Redis forwarded to it before.
      this.pubsubBeat = new RedisHeartbeat(() => [sub.ping()], this.boundMs, {
        lapse: () => this.liveness.set('paused'),
        resume: () => this.liveness.state === 'paused' && this.liveness.set('live'),
      });
      this.pubsubBeat.start();
    }
    this.pubsubBeat?.vouch(at);
    this.liveness.set('live');
  }

  private pubsubBeat: RedisHeartbeat | undefined;

  private onPubsub(raw: string): void {
    const n = parsePubsub(raw);
    if (n === undefined) {
      // Anyone who may publish on the channel can send this: drop what might have been meant.
      this.logger.warn('near tier: a malformed invalidation on the pub/sub channel; flushing');
      this.tier.flush('a malformed notice on the pub/sub channel');
      return;
    }
    if (n.from === this.self) return;
    // A tag record key dropped from the tier takes the copies carrying it along (near-tier.ts).
    if (n.op === 'delete' || n.op === 'tags') this.tier.apply('', { op: 'delete', keys: n.keys ?? [] });
    else if (n.op === 'clear') this.tier.apply(n.prefix ?? '', { op: 'clear' });
    else if (n.op === 'revoke' && n.pattern !== undefined)
      this.tier.apply(n.prefix ?? '', revokeChange(n.pattern));
  }

  /** `pubsub` mode: tells the other nodes of this node's own change (tracking needs nothing: the server tells). */
  publish(scope: string, change: Change): void {
    if (this.mode !== 'pubsub' || this.closed) return;
    const client = this.connection.client as Redis | Cluster;
    if (client.status !== 'ready') return;
    const notice =
      change.op === 'delete'
        ? { op: 'delete', keys: change.keys.map((k) => scope + k) }
        : change.op === 'tags'
          ? { op: 'tags', keys: change.tags.map((t) => scope + t) }
          : change.op === 'clear'
            ? { op: 'clear', prefix: scope }
            : { op: 'revoke', prefix: scope, pattern: change.pattern };
    client.publish(this.channel, JSON.stringify({ from: this.self, ...notice })).catch((err: Error) => {
      this.logger.warn({ err: err.message }, 'near tier: could not publish an invalidation');
    });
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.detachCluster?.();
    await Promise.all([...this.trackers.values()].map((t) => t.stop()));
    this.trackers.clear();
    this.pubsubBeat?.stop();
    this.pubsubSub?.disconnect();
    this.pubsubSub = undefined;
  }
}
