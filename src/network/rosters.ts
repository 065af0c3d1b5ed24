/**
 * Rosters: the members a sender's heartbeat digests name, in the sender's
 * order, with their notice epochs. Once a receiver holds a sender's roster, a
 * digest needs only each member's latest notice number and the age of the
 * news, by position (heartbeat-rosters.ts). A roster is versioned; a change
 * (members gone, members new) goes as the difference from a version the
 * receiver holds, so a network that is joining does not send every name again
 * at each join. The sender's epoch tells a restarted sender's versions from
 * the last one's.
 */
import type { DigestEntry } from './heartbeat-digest.js';

/** How a roster changed since a version: members gone (by peer id), then members appended in order. */
export interface RosterChange {
  removed: string[];
  added: Array<[peer: string, epoch: string]>;
}

/** Changes a sender remembers; a receiver further behind gets the roster in full. */
const CHANGES_KEPT = 64;

/**
 * The sending side: this node's roster in a stable order (members keep their
 * place; newcomers go at the end), its version, and the version each member holds.
 */
export class RosterOut {
  private peers: string[] = [];
  private epochs: string[] = [];
  version = 0;
  /** Each version's change from the one before, the latest CHANGES_KEPT. */
  private readonly changes: Array<RosterChange & { version: number }> = [];
  /** Version each member holds, as far as this node knows. */
  private readonly held = new Map<string, number>();
  /** Members whose heartbeats show they read rosters (those of an earlier release get every digest in full). */
  private readonly readers = new Set<string>();

  /** Takes this tick's digest and returns it in roster order, a new version if its members or epochs changed. */
  update(entries: readonly DigestEntry[]): DigestEntry[] {
    const now = new Map<string, DigestEntry>();
    for (const x of entries) now.set(x[0], x);
    const removed: string[] = [];
    const kept: string[] = [];
    const keptEpochs: string[] = [];
    for (let i = 0; i < this.peers.length; i++) {
      const peer = this.peers[i] as string;
      const x = now.get(peer);
      if (x !== undefined && x[1] === this.epochs[i]) {
        kept.push(peer);
        keptEpochs.push(x[1]);
      } else removed.push(peer);
    }
    const added: Array<[string, string]> = [];
    if (kept.length < entries.length) {
      const stays = new Set(kept);
      for (const x of entries) if (!stays.has(x[0])) added.push([x[0], x[1]]);
    }
    if (removed.length > 0 || added.length > 0) {
      this.peers = [...kept, ...added.map((a) => a[0])];
      this.epochs = [...keptEpochs, ...added.map((a) => a[1])];
      this.version++;
      this.changes.push({ version: this.version, removed, added });
      if (this.changes.length > CHANGES_KEPT) this.changes.shift();
    }
    return this.peers.map((peer) => now.get(peer) as DigestEntry);
  }

  /**
   * What `peer` needs before a digest by position: nothing (it holds this version), the
   * change since the version it holds, or undefined: the roster in full.
   */
  changeFor(peer: string): { base: number; change?: RosterChange } | undefined {
    if (!this.readers.has(peer)) return undefined;
    const base = this.held.get(peer);
    if (base === undefined) return undefined;
    if (base === this.version) return { base };
    const first = this.changes[0];
    if (first === undefined || base < first.version - 1) return undefined;
    return { base, change: since(this.changes, base) };
  }

  /** `peer` now holds the current version (sent in full, or the change to it). */
  sent(peer: string): void {
    this.held.set(peer, this.version);
  }

  /** `peer` reads rosters (its heartbeats carry one's version). */
  reads(peer: string): void {
    this.readers.add(peer);
  }

  /** `peer` may not hold the roster (it asked, or the connection is new): the next digest goes in full. */
  reset(peer: string): void {
    this.held.delete(peer);
  }

  forget(peer: string): void {
    this.held.delete(peer);
    this.readers.delete(peer);
  }
}

/** The changes after version `base`, folded into one. */
function since(changes: ReadonlyArray<RosterChange & { version: number }>, base: number): RosterChange {
  const removed = new Set<string>();
  const added = new Map<string, string>();
  for (const c of changes) {
    if (c.version <= base) continue;
    // A member added within the span and gone again was never in the receiver's roster.
    for (const peer of c.removed) if (!added.delete(peer)) removed.add(peer);
    for (const [peer, epoch] of c.added) added.set(peer, epoch);
  }
  return { removed: [...removed], added: [...added] };
}

interface Roster {
  readonly epoch: string;
  readonly version: number;
  readonly peers: readonly string[];
  readonly epochs: readonly string[];
}

/** The receiving side: each member's roster, as last sent in full or changed. */
export class RosterIn {
  private readonly rosters = new Map<string, Roster>();

  /** A digest in full from `from` (epoch `epoch`), roster version `version`. */
  learn(from: string, epoch: string, version: number, d: readonly DigestEntry[]): void {
    this.rosters.set(from, { epoch, version, peers: d.map((x) => x[0]), epochs: d.map((x) => x[1]) });
  }

  /** Applies `change` to version `base` of `from`'s roster; false if this node does not hold that version. */
  change(from: string, epoch: string, base: number, version: number, change: RosterChange): boolean {
    const r = this.rosters.get(from);
    if (r === undefined || r.epoch !== epoch || r.version !== base) return false;
    const gone = new Set(change.removed);
    const peers: string[] = [];
    const epochs: string[] = [];
    for (let i = 0; i < r.peers.length; i++) {
      if (gone.has(r.peers[i] as string)) continue;
      peers.push(r.peers[i] as string);
      epochs.push(r.epochs[i] as string);
    }
    for (const [peer, e] of change.added) {
      peers.push(peer);
      epochs.push(e);
    }
    this.rosters.set(from, { epoch, version, peers, epochs });
    return true;
  }

  /**
   * A digest by position (`c`: notice number and age of each member, in turn) as entries;
   * undefined when this node does not hold that roster (the sender is asked for it).
   */
  expand(from: string, epoch: string, version: number, c: readonly number[]): DigestEntry[] | undefined {
    const r = this.rosters.get(from);
    if (r === undefined || r.epoch !== epoch || r.version !== version || c.length !== 2 * r.peers.length)
      return undefined;
    const out: DigestEntry[] = new Array(r.peers.length);
    for (let i = 0; i < r.peers.length; i++)
      out[i] = [r.peers[i] as string, r.epochs[i] as string, c[2 * i] as number, c[2 * i + 1] as number];
    return out;
  }

  forget(from: string): void {
    this.rosters.delete(from);
  }
}
