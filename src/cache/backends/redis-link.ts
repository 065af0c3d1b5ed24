/**
 * The connection of the Redis backend: one ioredis client (server or
 * Cluster), its state (connecting, up, down, closed) and the logs of its
 * changes, the fast failure of a command while Redis is away, and a close
 * that leaves no socket or timer behind.
 */
import type { Socket } from 'node:net';
import type { Cluster, Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { MeshError } from '../../errors.js';
import type { BackendContext } from './backend.js';
import { createCluster, createStandalone } from './redis-connect.js';
import type { ResolvedRedisOptions } from './redis-options.js';

/** Connection state as seen by the backend. */
export type RedisBackendState = 'idle' | 'connecting' | 'up' | 'down' | 'closed';

/** Minimum interval between two "cluster node error" log lines. */
const NODE_ERROR_LOG_INTERVAL_MS = 10_000;

export class RedisLink {
  client: Redis | Cluster | undefined;
  log: Logger = pino({ level: 'silent' });
  state: RedisBackendState = 'idle';
  lastError: Error | undefined;
  private nodeErrorLoggedAt = -Infinity;

  /** Told when the connection is up again after being down. */
  private readonly upListeners: Array<() => void> = [];

  constructor(private readonly options: ResolvedRedisOptions) {}

  /** Calls `listener` each time the connection comes back after being down. */
  onUpAgain(listener: () => void): void {
    this.upListeners.push(listener);
  }

  get isCluster(): boolean {
    return this.options.cluster !== undefined;
  }

  /**
   * Connects. Waits at most about `connectTimeoutMs` for the first connection;
   * if Redis is unreachable it logs a warning and returns anyway (never throws for
   * that): the client keeps reconnecting in the background with a bounded backoff,
   * and operations fail fast until it is back.
   */
  async open(context?: BackendContext): Promise<void> {
    if (this.client) return;
    if (context?.logger) this.log = context.logger.child({ backend: 'redis' });
    const client = this.isCluster ? createCluster(this.options) : createStandalone(this.options);
    this.client = client;
    this.state = 'connecting';
    // Events of a client closed meanwhile (close, then open again) are ignored.
    const current = () => this.client === client;
    client.on('ready', () => current() && this.onUp());
    client.on('close', () => current() && this.onDown());
    client.on('end', () => current() && this.onDown());
    client.on('error', (err: Error) => {
      if (current()) this.lastError = err;
    });
    if (this.isCluster) {
      // One master failing leaves the cluster usable: log it, at most once per interval.
      client.on('node error', (err: Error, node: string) => {
        this.lastError = err;
        const now = performance.now();
        if (now - this.nodeErrorLoggedAt < NODE_ERROR_LOG_INTERVAL_MS) return;
        this.nodeErrorLoggedAt = now;
        this.log.warn({ node, err: err.message }, 'Redis Cluster node error');
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.connectTimeoutMs + 100);
    });
    try {
      await Promise.race([client.connect(), deadline]);
    } catch (err) {
      this.lastError = err as Error;
    } finally {
      clearTimeout(timer);
    }
    if (this.client?.status === 'ready') this.onUp();
    else if (this.state === 'connecting') this.onDown();
  }

  private onUp(): void {
    if (this.state === 'closed' || this.state === 'up') return;
    const wasDown = this.state === 'down';
    this.state = 'up';
    this.log.info({ redis: this.describe() }, wasDown ? 'Redis connection restored' : 'Redis connected');
    if (wasDown) for (const listener of this.upListeners) listener();
  }

  private onDown(): void {
    if (this.state === 'closed' || this.state === 'down') return;
    const first = this.state === 'connecting';
    this.state = 'down';
    this.log.warn(
      { redis: this.describe(), err: this.lastError?.message },
      first
        ? 'Redis unavailable: caching through Redis is bypassed, reconnecting in the background'
        : 'Redis connection lost: caching through Redis is bypassed, reconnecting in the background',
    );
  }

  private describe(): string {
    const o = this.options;
    if (o.cluster) return `cluster ${o.cluster.map((n) => `${n.host}:${n.port}`).join(',')}`;
    if (o.sentinels)
      return `sentinel ${o.name} via ${o.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
    if (o.url) return o.url.replace(/\/\/[^@/]*@/, '//***@');
    return `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
  }

  /** The client when it can take commands; otherwise a fast failure. */
  ready(op: string): Redis | Cluster {
    const client = this.client;
    if (client && client.status === 'ready') return client;
    if (this.state === 'closed') throw new MeshError('STOPPED', 'the Redis backend was closed', { op });
    if (!client) throw new MeshError('NOT_STARTED', 'the Redis backend is not open', { op });
    throw new MeshError('BACKEND_ERROR', `Redis unavailable (${client.status})`, {
      op,
      cause: this.lastError?.message,
    });
  }

  fail(op: string, err: unknown): MeshError {
    if (err instanceof MeshError) return err;
    const message = (err as Error)?.message ?? '';
    if (this.isCluster && /^(MOVED|CLUSTERDOWN)|Too many Cluster redirections/.test(message)) {
      // The topology changed (a master died, came back or moved): learn it now
      // rather than at the next periodic refresh. ioredis coalesces concurrent refreshes.
      (this.client as Cluster | undefined)?.refreshSlotsCache();
    }
    return new MeshError(
      'BACKEND_ERROR',
      `Redis ${op} failed: ${(err as Error)?.message ?? err}`,
      { op },
      err,
    );
  }

  nodes(op: string): Redis[] {
    const client = this.ready(op);
    if (!this.isCluster) return [client as Redis];
    const masters = (client as Cluster).nodes('master');
    if (masters.length === 0)
      throw new MeshError('BACKEND_ERROR', 'Redis Cluster has no known master', { op });
    return masters;
  }

  /** Disconnects; afterwards no timer or socket of this connection is left. */
  async close(): Promise<void> {
    const client = this.client;
    this.state = 'closed';
    this.client = undefined;
    if (!client) return;
    if (client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      const giveUp = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.operationTimeoutMs);
      });
      await Promise.race([client.quit().catch(() => {}), giveUp]);
      clearTimeout(timer);
    }
    const connections = this.isCluster ? (client as Cluster).nodes() : [client as Redis];
    if (client.status !== 'end') client.disconnect();
    // ioredis arms a 2 s "force destroy" timer on disconnect and clears it on the
    // socket's 'close'. A socket that is already closed (Redis was down) never emits
    // it again, so the timer would hold the process open: replay the event.
    for (const c of connections) {
      const stream = (c as unknown as { stream?: Socket }).stream;
      if (stream?.closed && stream.listenerCount('close') > 0) stream.emit('close', false);
    }
  }
}
