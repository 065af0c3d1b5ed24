/**
 * Leases for `coalesce: 'cluster'` on Redis: `SET <lease> <token> NX PX ms` to
 * take one; renew = `PEXPIRE` if still ours (Lua, so a lease that expired and
 * was taken by another node is never extended for it);
 * release = delete-if-ours (Lua) + `PUBLISH` of the lease key on one
 * channel per backend, so waiters wake at once; a subscriber connection
 * (opened on the first wait) routes messages to the waiters of each lease.
 * A waiter also wakes after its own bounded wait (the holder died: its lease
 * only expires), so nothing depends on a notification arriving.
 */
import type { Cluster, Redis } from 'ioredis';
import type { RedisLink } from './redis-link.js';

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], KEYS[1])
return 1
`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

export const LEASE_CHANNEL = 'meshcache:$lease';

type WithScripts = (Redis | Cluster) & {
  meshcacheRelease(key: string, token: string, channel: string): Promise<number>;
  meshcacheRenew(key: string, token: string, ms: number): Promise<number>;
};

const defined = new WeakSet<object>();

export class LeaseWaiters {
  readonly #waiters = new Map<string, Set<() => void>>();
  #subscriber: Redis | Cluster | undefined;
  #subscribing: Promise<void> | undefined;

  constructor(
    private readonly client: () => Redis | Cluster,
    private readonly channel: string,
  ) {}

  async acquire(key: string, token: string, ms: number): Promise<boolean> {
    return (await this.client().set(key, token, 'PX', Math.max(1, Math.round(ms)), 'NX')) === 'OK';
  }

  async release(key: string, token: string): Promise<void> {
    await this.scripted().meshcacheRelease(key, token, this.channel);
  }

  /** Extends the lease to `ms` from now if `token` still holds it; false when it does not. */
  async renew(key: string, token: string, ms: number): Promise<boolean> {
    return (await this.scripted().meshcacheRenew(key, token, Math.max(1, Math.round(ms)))) === 1;
  }

  private scripted(): WithScripts {
    const c = this.client();
    if (!defined.has(c)) {
      c.defineCommand('meshcacheRelease', { numberOfKeys: 1, lua: RELEASE });
      c.defineCommand('meshcacheRenew', { numberOfKeys: 1, lua: RENEW });
      defined.add(c);
    }
    return c as WithScripts;
  }

  wait(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiters.get(key);
      if (set === undefined) {
        set = new Set();
        this.#waiters.set(key, set);
      }
      const waiters = set;
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(key) === waiters) this.#waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      waiters.add(done);
      this.#subscribe().catch(() => {}); // without a subscription, waiters wake by their timers
    });
  }

  #subscribe(): Promise<void> {
    if (this.#subscribing) return this.#subscribing;
    this.#subscribing = (async () => {
      const sub = this.client().duplicate();
      this.#subscriber = sub;
      sub.on('error', () => {});
      sub.on('message', (_channel: string, key: string) => {
        const set = this.#waiters.get(key);
        if (set) for (const w of [...set]) w();
      });
      if (sub.status === 'wait') await sub.connect();
      await sub.subscribe(this.channel);
    })();
    this.#subscribing.catch(() => {
      this.#subscribing = undefined;
    });
    return this.#subscribing;
  }

  close(): void {
    for (const set of this.#waiters.values()) for (const w of [...set]) w();
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
    this.#subscribing = undefined;
  }
}

/**
 * The lease capability of a Redis backend (RedisBackend delegates to it): the
 * commands on the backend's connection, failures as the backend's own errors,
 * renewals refused once the backend is closed (so a renewing holder stops).
 */
export class RedisLeases {
  #waiters: LeaseWaiters | undefined;
  #closed = false;

  constructor(
    private readonly link: RedisLink,
    private readonly keyPrefix: string,
  ) {}

  #ready(): LeaseWaiters {
    this.link.ready('lease');
    this.#waiters ??= new LeaseWaiters(() => this.link.ready('lease'), this.keyPrefix + LEASE_CHANNEL);
    return this.#waiters;
  }

  async #run<T>(call: (w: LeaseWaiters) => Promise<T>): Promise<T> {
    try {
      return await call(this.#ready());
    } catch (err) {
      throw this.link.fail('lease', err);
    }
  }

  acquire(key: string, token: string, ms: number): Promise<boolean> {
    return this.#run((w) => w.acquire(key, token, ms));
  }

  async renew(key: string, token: string, ms: number): Promise<boolean> {
    if (this.#closed) return false;
    return this.#run((w) => w.renew(key, token, ms));
  }

  release(key: string, token: string): Promise<void> {
    return this.#run((w) => w.release(key, token));
  }

  /** Never rejects: without a connection, a plain timer. */
  wait(key: string, ms: number): Promise<void> {
    let waiters: LeaseWaiters;
    try {
      waiters = this.#ready();
    } catch {
      return new Promise((resolve) => setTimeout(resolve, ms));
    }
    return waiters.wait(key, ms);
  }

  /** The backend was opened again. */
  reopen(): void {
    this.#closed = false;
  }

  close(): void {
    this.#closed = true;
    this.#waiters?.close();
    this.#waiters = undefined;
  }
}
