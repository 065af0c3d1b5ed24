/**
 * The holders of a key computed locally: Kademlia XOR distance over the
 * connected members and this node (the ordering kad-dht uses), cached per key
 * for one version of the membership and of the routing table.
 */
import { type MeshDht, sortByDistance } from './dht.js';

/** Most keys whose holders are remembered for one membership. */
const CACHE_MAX = 10_000;
/** Members that left are remembered this long, at most this many (see `of`). */
const DEPARTED_MS = 10 * 60_000;
const DEPARTED_MAX = 10_000;

export class Holders {
  /** When a member last joined or left (epoch ms). */
  private changedAt = 0;
  /** Bumped when a member joins or leaves. */
  private version = 0;
  /** Holders per key (all members, closest first) for the membership and routing table of `at`. */
  private readonly cache = new Map<string, string[]>();
  private at = '';
  /** Whether the membership of `at` was complete (every routing table peer connected, or seen leaving). */
  private complete = false;
  /** Members seen leaving (peer id → when), until they join again or DEPARTED_MS pass. */
  private readonly departed = new Map<string, number>();

  constructor(private readonly members: { has(id: string): boolean; peers(): string[] }) {}

  /** Member `peerId` joined or left. */
  changed(peerId: string, how: 'join' | 'leave'): void {
    const now = Date.now();
    this.changedAt = now;
    this.version++;
    if (how === 'join') this.departed.delete(peerId);
    else {
      if (this.departed.size >= DEPARTED_MAX) this.departed.clear();
      this.departed.set(peerId, now);
    }
  }

  /** Forgets everything (the node stopped). */
  reset(): void {
    this.cache.clear();
    this.departed.clear();
    this.at = '';
  }

  /**
   * A routing-table peer that is not a member but was seen leaving does not make
   * the membership incomplete: kad-dht keeps a dead peer in its table until a
   * later query evicts it (minutes), and meanwhile every read would take the
   * lookup. One that left longer than DEPARTED_MS ago counts as unknown again.
   */
  private accounted(peerId: string, now: number): boolean {
    if (this.members.has(peerId)) return true;
    const left = this.departed.get(peerId);
    return left !== undefined && now - left < DEPARTED_MS;
  }

  /**
   * The `n` holders of `key`, or undefined when the membership may be incomplete: a
   * peer of the routing table is not connected (and was not seen leaving), or a member joined or left less than
   * `settleMs` ago (records may not have reached their new holders yet).
   */
  of(dht: MeshDht, key: string, n: number, settleMs: number): string[] | undefined {
    if (settleMs > 0 && Date.now() - this.changedAt < settleMs) return undefined;
    const at = dht.routingVersion === undefined ? '' : `${this.version}:${dht.routingVersion}`;
    if (at === '' || at !== this.at) {
      const routing = dht.routingTablePeers();
      const now = Date.now();
      this.complete = routing?.every((p) => this.accounted(p, now)) === true;
      this.cache.clear();
      this.at = at;
    }
    if (!this.complete) return undefined;
    let sorted = this.cache.get(key);
    if (sorted === undefined) {
      sorted = sortByDistance(key, [...this.members.peers(), dht.selfId]);
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      if (at !== '') this.cache.set(key, sorted);
    }
    return sorted.slice(0, n);
  }
}
