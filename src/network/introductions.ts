/**
 * Meeting the members other members name (in heartbeat digests) that this
 * node never met: past the few dozen members a discovery lookup finds, this
 * is how the membership completes. A digest names members by peer id only, so
 * the member that named them is asked where they listen (one request for many
 * strangers), and each is then one dial; a stranger that member cannot place
 * is found by a kad-dht peer lookup, as libp2p dials an id it has no address for.
 */
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Logger } from 'pino';
import { withDeadline } from '../node/deadline-signal.js';
import { knownAddresses, learnAddresses } from './addresses.js';
import { bump, type MessageCounts } from './counters.js';
import { BACKGROUND_DIAL_FACTOR, type MeshLibp2p } from './libp2p.js';
import { type DirectReply, MAX_WHERE_PEERS, type WhereRequest } from './wire/index.js';

/** A stranger named again within this time is not dialed again, ms. */
const INTRODUCE_RETRY_MS = 10_000;
/** Most strangers remembered (a bound against digests naming made-up peers). */
const MAX_INTRODUCED = 10_000;
/** Most strangers waiting for a dial. */
const MAX_QUEUED = 1_000;
/**
 * Introduction dials in flight at once: a newcomer hears of every member in its first
 * digests, and dialing them all at once (a handshake, identify and catalog each) is the
 * burst that churns a loaded machine.
 */
const MAX_INTRODUCING = 4;

/**
 * Two strangers hear of each other from the same digests, at about the same time: if
 * both dialed, libp2p would keep both connections (a second set of buffers and upkeep
 * per pair). The one with the smaller peer id dials; the other only if they are still
 * strangers this long after it first heard of the other, ms.
 */
const INTRODUCE_DEFER_MS = 3_000;

export interface IntroductionLinks {
  /** The started libp2p node (undefined once stopped). */
  node(): MeshLibp2p | undefined;
  isMember(peer: string): boolean;
  /** Sends a `where` request to member `peer`. */
  request(peer: string, req: WhereRequest, signal: AbortSignal): Promise<DirectReply>;
}

export class Introductions {
  /** Strangers by when they were last dialed (performance.now()). */
  private readonly introduced = new Map<string, number>();
  /** Strangers waiting for a dial, by the member that named them. */
  private readonly queue = new Map<string, string>();
  private introducing = 0;

  constructor(
    private readonly links: IntroductionLinks,
    private readonly dialTimeoutMs: number,
    private readonly logger: Logger,
    private readonly counts: MessageCounts,
  ) {}

  /** Meets the strangers of `peers`, named by member `via` (each not more than once per INTRODUCE_RETRY_MS). */
  introduce(peers: readonly string[], via: string): void {
    const node = this.links.node();
    if (node === undefined) return;
    const self = node.peerId.toString();
    const now = performance.now();
    // Peers with a connection, read once per digest and only if a stranger's turn needs it.
    let linked: Set<string> | undefined;
    const connected = (peer: string): boolean => {
      linked ??= new Set(node.getPeers().map(String));
      return linked.has(peer);
    };
    for (const peer of peers) {
      if (peer === self || this.queue.has(peer) || this.links.isMember(peer)) continue;
      const last = this.introduced.get(peer);
      if (last !== undefined && now - last < INTRODUCE_RETRY_MS) continue;
      if (this.introduced.size >= MAX_INTRODUCED) this.introduced.clear();
      if (last === undefined && self > peer && !connected(peer)) {
        // Due again INTRODUCE_DEFER_MS from now, if the other side has not dialed by then.
        this.introduced.set(peer, now - INTRODUCE_RETRY_MS + INTRODUCE_DEFER_MS);
        continue;
      }
      if (this.queue.size >= MAX_QUEUED) break;
      this.queue.set(peer, via);
    }
    this.next();
  }

  /** Forgets every stranger (the node stopped). */
  clear(): void {
    this.queue.clear();
    this.introduced.clear();
  }

  /** Starts dials while fewer than MAX_INTRODUCING run. */
  private next(): void {
    while (this.introducing < MAX_INTRODUCING && this.queue.size > 0) {
      const [peer, via] = this.queue.entries().next().value as [string, string];
      this.queue.delete(peer);
      if (this.links.isMember(peer)) continue;
      this.introduced.set(peer, performance.now());
      this.introducing++;
      void this.meet(peer, via).finally(() => {
        this.introducing--;
        this.next();
      });
    }
  }

  private async meet(peer: string, via: string): Promise<void> {
    const node = this.links.node();
    if (node === undefined) return;
    let id: PeerId;
    try {
      id = peerIdFromString(peer);
    } catch {
      return;
    }
    bump(this.counts.sent, 'member:introduced');
    const timeoutMs = this.dialTimeoutMs * BACKGROUND_DIAL_FACTOR;
    try {
      const open = node.getConnections(id).find((c) => c.status === 'open');
      if (open !== undefined) {
        // Connected, yet not a member: identify failed (timed out on a loaded machine, say)
        // and libp2p does not run it again. Its result makes the peer a member.
        await withDeadline(timeoutMs, (signal) => node.services.identify.identify(open, { signal }));
        return;
      }
      if ((await knownAddresses(node, id)).length === 0) await this.locate(node, peer, via);
      await withDeadline(timeoutMs, (signal) => node.dial(id, { signal }));
    } catch (err) {
      bump(this.counts.sent, 'member:unreached');
      this.logger.debug({ peer, err: (err as Error).message }, 'could not dial a member heard of');
    }
  }

  /**
   * Asks `via` where `peer` listens, and with it the other strangers it named that wait:
   * when their turn comes, the peer store has their addresses.
   */
  private async locate(node: MeshLibp2p, peer: string, via: string): Promise<void> {
    if (!this.links.isMember(via)) return;
    const asked = [peer];
    for (const [p, from] of this.queue) {
      if (asked.length >= MAX_WHERE_PEERS) break;
      if (from === via) asked.push(p);
    }
    try {
      const reply = await this.links.request(
        via,
        { t: 'where', p: asked },
        AbortSignal.timeout(this.dialTimeoutMs),
      );
      if (reply.ok && reply.r !== undefined) await learnAddresses(node, reply.r, new Set(asked));
    } catch (err) {
      this.logger.debug({ via, err: (err as Error).message }, 'could not ask a member where others listen');
    }
  }
}
