/**
 * Invalidations of the DHT backend: deletes, clears and revokes applied here
 * (rule log, local store), broadcast to the other nodes, received
 * from them (validated control messages), and pulled from a peer after this
 * node was away. Timestamps of a peer whose clock is off are taken in this
 * node's clock (network/clock.ts).
 */
import { isExpired, type MeshNetwork } from '../../../network/index.js';
import { type Control, parseControl } from './control.js';
import { parseRuleLog, type Rule } from './rules.js';
import type { DhtState, InvalidationInfo } from './state.js';

export const SYNC_NAME = 'dht-rules';

/** Distributive Omit: keeps the union of control messages a union. */
type Outgoing = Control extends infer C ? (C extends Control ? Omit<C, 'sent'> : never) : never;

export class Invalidations {
  private readonly listeners = new Set<(info: InvalidationInfo) => void>();
  private readonly beaconTimers = new Map<number, NodeJS.Timeout>();

  constructor(private readonly state: DhtState) {}

  close(): void {
    for (const t of this.beaconTimers.values()) clearTimeout(t);
    this.beaconTimers.clear();
  }

  /** Calls `listener` after each invalidation (local or remote) has been applied here; returns a remover. */
  onInvalidation(listener: (info: InvalidationInfo) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends a control message to every other node (gossip, plus direct sends for invalidations). */
  broadcast(msg: Outgoing): void {
    const network = this.state.network;
    if (network === undefined || !network.started) return;
    const full = { ...msg, sent: Date.now() } as Record<string, unknown>;
    network.publishControl(full, msg.op === 'del' || msg.op === 'rule').catch((err: Error) => {
      this.state.logger?.warn({ err: err.message }, 'invalidation broadcast failed');
    });
  }

  /** Applies a clear/revoke here, tells the listeners and the other nodes; returns how many keys this node dropped. */
  invalidate(rule: Rule): number {
    const n = this.applyRule(rule);
    this.notify({ op: 'rule', ...rule, remote: false });
    this.broadcast({
      c: 'dht',
      op: 'rule',
      prefix: rule.prefix,
      ...(rule.pattern === undefined ? {} : { pattern: rule.pattern }),
      at: rule.at,
    });
    return n;
  }

  /**
   * Applies a delete (`at` in this node's clock) to the rule log and the local
   * store. The first time this node learns of it, it applies to
   * what is held here even when written up to the clock tolerance after `at`
   * (a writer whose clock is ahead within the tolerance cannot outlive a delete
   * issued after its write); later records are ordered by timestamp.
   */
  applyDelete(key: string, at: number): boolean {
    const { rules, options, network } = this.state;
    const fresh = rules.addDelete(key, at);
    const until = fresh ? at + options.clockToleranceMs : at;
    let dropped = false;
    const dht = network?.started ? network.dht : undefined;
    const local = dht?.readLocal(key);
    if (dht !== undefined && local !== undefined && local.deleted !== true && local.writtenAt < until) {
      dht.deleteLocal(key);
      dropped = true;
    }
    return dropped;
  }

  /** Applies a clear/revoke rule; returns how many distinct keys this node dropped. */
  applyRule(rule: Rule): number {
    const { rules, options, network } = this.state;
    const matches = rules.addRule(rule);
    if (matches === undefined) return 0;
    // New here: it applies to what is held, up to the clock tolerance after `at` (as a delete does).
    const until = rule.at + options.clockToleranceMs;
    const now = Date.now();
    const dropped = new Set<string>();
    if (network?.started) {
      const dht = network.dht;
      for (const { key, record } of [...dht.localRecords()]) {
        if (record.writtenAt < until && matches(key)) {
          dht.deleteLocal(key);
          // Counted when it was live: a tombstone, or an expired record the sweep has not removed yet, was no entry.
          if (record.deleted !== true && !isExpired(record, now)) dropped.add(key);
        }
      }
    }
    return dropped.size;
  }

  notify(info: InvalidationInfo): void {
    for (const listener of this.listeners) {
      try {
        listener(info);
      } catch (err) {
        this.state.logger?.warn({ err }, 'invalidation listener failed');
      }
    }
  }

  /** The shift that brings timestamps of `peer` into this node's clock (measured from `sent` when given). */
  shiftFor(peer: string, sent: unknown): number {
    const clock = this.state.network?.clock;
    if (clock === undefined || peer === '') return 0;
    if (typeof sent === 'number') return clock.observe(peer, sent);
    return clock.shiftOf(peer) ?? 0;
  }

  /** A control message from another node (gossip or direct). */
  onControl(raw: Record<string, unknown>, from = ''): void {
    const parsed = parseControl(raw);
    if (parsed === undefined) return;
    const msg = { ...parsed, at: parsed.at + this.shiftFor(from, parsed.sent) };
    switch (msg.op) {
      case 'put':
        return; // sent by nodes of earlier versions to their own near caches (the near tier has its own bus)
      case 'del':
        this.state.counters.invalidationsReceived++;
        this.applyDelete(msg.key, msg.at);
        this.notify({ op: 'delete', key: msg.key, at: msg.at, remote: true });
        return;
      case 'rule': {
        this.state.counters.invalidationsReceived++;
        const rule: Rule = {
          prefix: msg.prefix,
          at: msg.at,
          ...(msg.pattern === undefined ? {} : { pattern: msg.pattern }),
        };
        try {
          this.applyRule(rule);
          this.notify({ op: 'rule', ...rule, remote: true });
        } catch (err) {
          this.state.logger?.warn({ err: (err as Error).message }, 'ignored a malformed invalidation');
        }
        return;
      }
      case 'clock':
        return; // measured by shiftFor
    }
  }

  /**
   * Learns the invalidations this node missed while away, from `first` (when a member) or
   * another peer; false when no peer answered.
   */
  async pullRules(network: MeshNetwork, first?: string): Promise<boolean> {
    const peers = network.peers();
    const order =
      first !== undefined && peers.includes(first) ? [first, ...peers.filter((p) => p !== first)] : peers;
    for (const peer of order.slice(0, 2)) {
      try {
        const raw = await network.sync.pull(peer, SYNC_NAME, this.state.signal());
        const snap = parseRuleLog(raw);
        const shift = this.shiftFor(peer, (raw as { sent?: unknown } | undefined)?.sent);
        for (const [key, at] of snap.deletes) this.applyDelete(key, at + shift);
        for (const rule of snap.rules) this.applyRule({ ...rule, at: rule.at + shift });
        return true;
      } catch (err) {
        this.state.logger?.debug(
          { peer, err: (err as Error).message },
          'could not pull the invalidation log',
        );
      }
    }
    return false;
  }

  /** Sends a clock beacon in `delayMs` (batched: a burst of joins sends one per delay). */
  scheduleBeacon(delayMs: number): void {
    if (this.beaconTimers.has(delayMs)) return;
    const timer = setTimeout(() => {
      this.beaconTimers.delete(delayMs);
      this.broadcast({ c: 'dht', op: 'clock', at: Date.now() });
    }, delayMs);
    timer.unref();
    this.beaconTimers.set(delayMs, timer);
  }
}
