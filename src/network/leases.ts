/**
 * Leases held by a key's first holder (`coalesce: 'cluster'` on the DHT): the
 * member closest to the lease key (Kademlia distance over the members and this
 * node) keeps the lease in memory and answers acquire, renew, release and wait
 * requests over the one-hop protocol; waiters are answered when the lease is
 * released, so nobody polls. No extra service: a member that dies takes its
 * leases with it, and the next caller takes a new one at the next closest member.
 * While the membership changes, two nodes may pick different first holders and
 * each take a lease: a second computation, never a failure.
 */
import { sortByDistance } from './dht.js';
import type { DirectReply, DirectRequest, LeaseRequest } from './wire/index.js';
import { MAX_LEASE_MS } from './wire/index.js';

export type LeaseOp = LeaseRequest['op'];

interface Lease {
  token: string;
  until: number;
  timer: NodeJS.Timeout;
}

export class LeaseTable {
  private readonly leases = new Map<string, Lease>();
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Takes `key` for `ms` if it is free, expired, or already `token`'s (then it is extended). */
  acquire(key: string, token: string, ms: number): boolean {
    const now = Date.now();
    const held = this.leases.get(key);
    if (held !== undefined && held.until > now && held.token !== token) return false;
    if (held !== undefined) clearTimeout(held.timer);
    const span = Math.min(Math.max(1, ms), MAX_LEASE_MS);
    // Idle bookkeeping (it wakes waiters of an expired lease): unref'd.
    const timer = setTimeout(() => this.expire(key, token), span);
    timer.unref();
    this.leases.set(key, { token, until: now + span, timer });
    return true;
  }

  /** Extends `token`'s lease on `key`; false when it is not (or no longer) `token`'s. */
  renew(key: string, token: string, ms: number): boolean {
    const held = this.leases.get(key);
    if (held === undefined || held.token !== token || held.until <= Date.now()) return false;
    return this.acquire(key, token, ms);
  }

  /** Drops `token`'s lease on `key` and wakes its waiters. */
  release(key: string, token: string): void {
    const held = this.leases.get(key);
    if (held !== undefined && held.token === token) {
      clearTimeout(held.timer);
      this.leases.delete(key);
    }
    this.wake(key);
  }

  /** Resolves when `key` is released or expires, or after `ms` at the latest. */
  wait(key: string, ms: number): Promise<void> {
    if (!this.leases.has(key)) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const waiting = set;
      const done = () => {
        clearTimeout(timer);
        waiting.delete(done);
        if (waiting.size === 0 && this.waiters.get(key) === waiting) this.waiters.delete(key);
        resolve();
      };
      // Ref'd: a caller awaits it (the bound of its wait).
      const timer = setTimeout(done, Math.min(Math.max(0, ms), MAX_LEASE_MS));
      waiting.add(done);
    });
  }

  /** Answers a lease request from another member (`r`: '1' granted, '0' refused). */
  async answer(req: LeaseRequest): Promise<{ ok: boolean; r?: string }> {
    switch (req.op) {
      case 'acquire':
        return { ok: true, r: this.acquire(req.k, req.tok, req.ms) ? '1' : '0' };
      case 'renew':
        return { ok: true, r: this.renew(req.k, req.tok, req.ms) ? '1' : '0' };
      case 'release':
        this.release(req.k, req.tok);
        return { ok: true };
      case 'wait':
        await this.wait(req.k, req.ms);
        return { ok: true };
    }
  }

  /** Forgets every lease and wakes every waiter (the node stops). */
  clear(): void {
    for (const l of this.leases.values()) clearTimeout(l.timer);
    this.leases.clear();
    for (const key of [...this.waiters.keys()]) this.wake(key);
  }

  get size(): number {
    return this.leases.size;
  }

  private expire(key: string, token: string): void {
    const held = this.leases.get(key);
    if (held?.token === token && held.until <= Date.now() + 1) {
      this.leases.delete(key);
      this.wake(key);
    }
  }

  private wake(key: string): void {
    const set = this.waiters.get(key);
    if (set === undefined) return;
    this.waiters.delete(key);
    for (const w of [...set]) w();
  }
}

/** What the lease client needs of the network. */
export interface LeaseTransport {
  readonly selfId: string;
  peers(): string[];
  request(peer: string, req: DirectRequest, signal: AbortSignal): Promise<DirectReply>;
}

/** Leases on `key`, kept by its first holder (this node's table when it is that member). */
export class Leases {
  readonly table = new LeaseTable();

  constructor(private readonly transport: LeaseTransport) {}

  /** The member that keeps the lease of `key`. */
  holderOf(key: string): string {
    const t = this.transport;
    return sortByDistance(key, [...t.peers(), t.selfId])[0] ?? t.selfId;
  }

  /**
   * Runs `op` on the lease of `key` at its holder: true when an acquire or a
   * renew was granted (release and wait: true). Throws when the holder does
   * not answer within `timeoutMs` (plus the wait, for `wait`).
   */
  async run(op: LeaseOp, key: string, token: string, ms: number, timeoutMs: number): Promise<boolean> {
    const holder = this.holderOf(key);
    const req: LeaseRequest = { t: 'lease', op, k: key, tok: token, ms: Math.min(ms, MAX_LEASE_MS) };
    const reply =
      holder === this.transport.selfId
        ? await this.table.answer(req)
        : await this.transport.request(
            holder,
            req,
            AbortSignal.timeout(timeoutMs + (op === 'wait' ? req.ms : 0)),
          );
    if (!reply.ok) throw new Error(`lease ${op} refused by ${holder}`);
    return op === 'acquire' || op === 'renew' ? reply.r === '1' : true;
  }
}
