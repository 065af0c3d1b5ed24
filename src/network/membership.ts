/**
 * Membership and discovery of one network: who the members are (peers that
 * speak this network's Kademlia protocol, seen by identify), bootstrap dialing
 * and redialing, and discovery lookups (a lookup of this node's own id connects
 * it to the members closest to it: all of them in a network of a few dozen).
 */
import type { IdentifyResult, PeerId } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from 'pino';
import { withDeadline } from '../node/deadline-signal.js';
import { addressesOf } from './addresses.js';
import { bump, type MessageCounts, newCounts } from './counters.js';
import type { MeshDht } from './dht.js';
import { Introductions } from './introductions.js';
import { BOOTSTRAP_REDIAL_FACTOR, type MeshLibp2p } from './libp2p.js';
import { kadProtocol } from './names.js';
import type { DirectReply, WhereRequest } from './wire/index.js';

/**
 * Least time between the end of a discovery lookup and the next one a join asks
 * for, ms (only where no heartbeats run: with them a join asks for none). A lookup
 * opens a stream to each of the dozens of members it asks; in a network whose
 * members join all at once, a lookup after every join would keep every node
 * looking up without pause.
 */
const LOOKUP_GAP_MS = 10_000;

export interface MembershipEvents {
  join(peerId: string): void;
  leave(peerId: string): void;
  online(): void;
  offline(): void;
  /**
   * True while heartbeat digests name every member to this node (introductions.ts): a join
   * then asks for no discovery lookup of its own. Each lookup asks dozens of members for
   * their closest peers, a peer-store read per peer; in a network joining all at once, the
   * members every lookup reaches spent a fifth of their CPU answering them.
   */
  digests(): boolean;
}

export interface MembershipOptions {
  readonly networkId: string;
  readonly bootstrap: readonly string[];
  readonly dialTimeoutMs: number;
  readonly redialIntervalMs: number;
  readonly discoveryIntervalMs: number;
}

export class Membership {
  private readonly members = new Set<string>();
  private node: MeshLibp2p | undefined;
  private dht: MeshDht | undefined;
  private redialTimer: NodeJS.Timeout | undefined;
  private discoverTimer: NodeJS.Timeout | undefined;
  private discoverAgain = false;
  private followUpTimer: NodeJS.Timeout | undefined;
  private discovering = false;
  /** A redial of the bootstrap list runs (it may outlast the interval). */
  private redialing = false;
  /** performance.now() the last discovery lookup ended (-Infinity: none yet). */
  private lookupEndedAt = Number.NEGATIVE_INFINITY;
  private detach: (() => void) | undefined;
  private readonly introductions: Introductions;

  constructor(
    private readonly options: MembershipOptions,
    private readonly events: MembershipEvents,
    /** Sends a `where` request to a member (introductions ask where strangers listen). */
    request: (peer: string, req: WhereRequest, signal: AbortSignal) => Promise<DirectReply>,
    private readonly logger: Logger,
    /** Joins, leaves, lookups and dials (counters.ts). */
    private readonly counts: MessageCounts = newCounts(),
  ) {
    this.introductions = new Introductions(
      { node: () => this.node, isMember: (peer) => this.members.has(peer), request },
      options.dialTimeoutMs,
      logger,
      counts,
    );
  }

  /** Peer ids of the connected members. */
  peers(): string[] {
    return [...this.members];
  }

  has(peerId: string): boolean {
    return this.members.has(peerId);
  }

  get size(): number {
    return this.members.size;
  }

  /** Starts following identify/disconnect events, dials the bootstrap list, then redials and discovers on intervals. */
  async start(node: MeshLibp2p, dht: MeshDht): Promise<void> {
    this.node = node;
    this.dht = dht;
    this.detach = this.attach(node);
    await this.dialBootstrap(true);
    let ticks = 0;
    const o = this.options;
    const discoverEvery = Math.max(1, Math.round(o.discoveryIntervalMs / o.redialIntervalMs));
    this.redialTimer = setInterval(() => {
      if (!this.redialing) {
        this.redialing = true;
        void this.dialBootstrap(false).finally(() => {
          this.redialing = false;
        });
      }
      if (++ticks % discoverEvery === 0 || this.members.size === 0) this.discoverSoon();
    }, o.redialIntervalMs);
    this.redialTimer.unref();
  }

  /**
   * Meets the members of `peers` this node never met, named by member `via`
   * (introductions.ts).
   */
  introduce(peers: readonly string[], via: string): void {
    this.introductions.introduce(peers, via);
  }

  /** The reply to a member's `where`: the addresses of those of `peers` this node is connected to. */
  addressesOf(peers: readonly string[]): Promise<DirectReply> {
    const node = this.node;
    if (node === undefined) return Promise.resolve({ ok: false });
    return addressesOf(node, peers, (peer) => this.members.has(peer));
  }

  /** Stops the timers and forgets the members; returns whether there were any. */
  stop(): boolean {
    clearInterval(this.redialTimer);
    clearTimeout(this.discoverTimer);
    this.discoverTimer = undefined;
    clearTimeout(this.followUpTimer);
    this.followUpTimer = undefined;
    this.detach?.();
    this.detach = undefined;
    this.node = undefined;
    this.dht = undefined;
    const had = this.members.size > 0;
    this.members.clear();
    this.introductions.clear();
    return had;
  }

  private attach(node: MeshLibp2p): () => void {
    const kad = kadProtocol(this.options.networkId);
    const onIdentify = (evt: CustomEvent<IdentifyResult>) => {
      const id = evt.detail.peerId.toString();
      if (this.members.has(id) || !evt.detail.protocols.includes(kad)) return;
      if (node.getConnections(evt.detail.peerId).length === 0) return;
      this.members.add(id);
      bump(this.counts.received, 'member:join');
      this.logger.debug({ peer: id }, 'peer joined');
      if (this.members.size === 1) {
        this.events.online();
        // Members that joined the bootstrap peer at the same moment as this one were not
        // in its routing table for the first lookup: look once more a little later.
        clearTimeout(this.followUpTimer);
        this.followUpTimer = setTimeout(() => this.discoverSoon(0, true), 2_000);
        this.followUpTimer.unref();
      }
      this.events.join(id);
      if (!this.events.digests()) this.discoverSoon();
    };
    const onDisconnect = (evt: CustomEvent<PeerId>) => {
      const id = evt.detail.toString();
      if (!this.members.delete(id)) return;
      bump(this.counts.received, 'member:leave');
      this.logger.debug({ peer: id }, 'peer left');
      this.events.leave(id);
      if (this.members.size === 0) this.events.offline();
    };
    node.addEventListener('peer:identify', onIdentify);
    node.addEventListener('peer:disconnect', onDisconnect);
    return () => {
      node.removeEventListener('peer:identify', onIdentify);
      node.removeEventListener('peer:disconnect', onDisconnect);
    };
  }

  /**
   * A discovery lookup shortly (after a member joins, and every `discoveryIntervalMs`).
   * Asked while one runs, it runs once more afterwards: members that joined at the same
   * moment may not have been known to the peers the first lookup asked. Unless `urgent`,
   * it waits for LOOKUP_GAP_MS to pass since the last one.
   */
  private discoverSoon(delayMs = 200, urgent = false): void {
    if (this.discovering) {
      this.discoverAgain = true;
      return;
    }
    if (this.dht === undefined) return;
    if (this.discoverTimer !== undefined) {
      if (!urgent) return;
      clearTimeout(this.discoverTimer);
    }
    const wait = urgent ? delayMs : Math.max(delayMs, this.lookupEndedAt + LOOKUP_GAP_MS - performance.now());
    this.discoverTimer = setTimeout(() => {
      this.discoverTimer = undefined;
      const dht = this.dht;
      if (dht === undefined || this.members.size === 0) return;
      this.discovering = true;
      this.discoverAgain = false;
      bump(this.counts.sent, 'discovery:lookup');
      dht
        .selfLookup(AbortSignal.timeout(this.options.dialTimeoutMs))
        .catch((err: Error) => this.logger.debug({ err: err.message }, 'peer discovery lookup failed'))
        .finally(() => {
          this.discovering = false;
          this.lookupEndedAt = performance.now();
          if (this.discoverAgain) this.discoverSoon(1_000);
        });
    }, wait);
    this.discoverTimer.unref();
  }

  /** Dials bootstrap peers we are not connected to (all of them on start, the missing ones later). */
  private async dialBootstrap(initial: boolean): Promise<void> {
    const node = this.node;
    if (node === undefined || this.options.bootstrap.length === 0) return;
    const connected = new Set(node.getPeers().map((p) => p.toString()));
    const self = node.peerId.toString();
    const targets = this.options.bootstrap.filter((addr) => {
      const id = multiaddr(addr)
        .getComponents()
        .find((c) => c.name === 'p2p')?.value;
      if (id === self) return false;
      return id === undefined ? initial || this.members.size === 0 : !connected.has(id);
    });
    if (targets.length > 0) bump(this.counts.sent, 'bootstrap:dial', targets.length);
    // `start()` awaits the first dials: a ref'd deadline, cleared once they settle. Nothing waits
    // for a redial: it waits its turn in a busy bootstrap peer's queue (BOOTSTRAP_REDIAL_FACTOR).
    const timeoutMs = initial
      ? this.options.dialTimeoutMs
      : this.options.dialTimeoutMs * BOOTSTRAP_REDIAL_FACTOR;
    const results = await withDeadline(timeoutMs, (signal) =>
      Promise.allSettled(targets.map((addr) => node.dial(multiaddr(addr), { signal }))),
    );
    const failures: Array<{ address: string; reason: string }> = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      const address = targets[i] as string;
      const reason = dialFailureReason(r.reason);
      failures.push({ address, reason });
      // On start every failure is a warning; later redials (every redialIntervalMs) stay at debug.
      if (initial) this.logger.warn({ address, reason }, `bootstrap peer ${address} unreachable: ${reason}`);
      else this.logger.debug({ address, reason }, `bootstrap dial failed: ${address}: ${reason}`);
    });
    if (initial && targets.length > 0 && failures.length === targets.length) {
      const list = failures.map((f) => `${f.address} (${f.reason})`).join(', ');
      this.logger.warn(
        { bootstrap: targets, failures },
        `no bootstrap peer reachable: running alone until one is: ${list}`,
      );
    }
  }
}

/** The message of a dial error (AggregateErrors carry theirs in `errors`). */
function dialFailureReason(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    const inner = [...new Set(err.errors.map(dialFailureReason))].join('; ');
    return err.message ? `${err.message}: ${inner}` : inner;
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
