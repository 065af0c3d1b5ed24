/**
 * The holders of a key computed locally: Kademlia XOR distance over the
 * connected members and this node (the ordering kad-dht uses), cached per key
 * for one version of the membership and of the routing table.
 */
import { type MeshDht, sortByDistance } from './dht.js';

/** Most keys whose holders are remembered for one membership. */
const CACHE_MAX = 10_000;

export class Holders {
  /** When a member last joined or left (epoch ms). */
  private changedAt = 0;
  /** Bumped when a member joins or leaves. */
  private version = 0;
  /** Holders per key (all members, closest first) for the membership and routing table of `at`. */
  private readonly cache = new Map<string, string[]>();
  private at = '';
  /** Whether the membership of `at` was complete (every routing table peer connected). */
  private complete = false;

  constructor(private readonly members: { has(id: string): boolean; peers(): string[] }) {}

  /** A member joined or left. */
  changed(): void {
    this.changedAt = Date.now();
    this.version++;
  }

  /** Forgets everything (the node stopped). */
  reset(): void {
    this.cache.clear();
    this.at = '';
  }

  /**
   * The `n` holders of `key`, or undefined when the membership may be incomplete: a
   * peer of the routing table is not connected, or a member joined or left less than
   * `settleMs` ago (records may not have reached their new holders yet).
   */
  of(dht: MeshDht, key: string, n: number, settleMs: number): string[] | undefined {
    if (settleMs > 0 && Date.now() - this.changedAt < settleMs) return undefined;
    const at = dht.routingVersion === undefined ? '' : `${this.version}:${dht.routingVersion}`;
    if (at === '' || at !== this.at) {
      const routing = dht.routingTablePeers();
      this.complete = routing?.every((p) => this.members.has(p)) === true;
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
