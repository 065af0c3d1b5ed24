/**
 * Cache-agnostic invalidation notices over the network's control topic. The
 * network carries them and numbers them; it does not interpret them (the
 * caching part does: src/cache/coherence/channels/network-bus.ts).
 *
 * Every notice carries its publisher's epoch (random, per process start) and a
 * sequence number. A receiver that sees a publisher skip numbers learns it
 * missed notices (`gap: true`): it must then drop whatever they could have
 * touched.
 */
import { randomBytes } from 'node:crypto';

/**
 * What to drop: entries under `scope`, by key, all of them, those matching a
 * glob, or those carrying one of some tags.
 */
export interface InvalidationNotice {
  /** A namespace the keys live in (for the cache: a service's key scope, or a tag record base). */
  readonly scope: string;
  readonly op: 'delete' | 'clear' | 'revoke' | 'tags';
  /** `delete`: the keys (relative to `scope`). */
  readonly keys?: readonly string[];
  /** `revoke`: the glob. */
  readonly pattern?: string;
  /** `tags`: the tags (relative to `scope`). */
  readonly tags?: readonly string[];
}

/** Bounds of a received `tags` notice (a sender never needs more; a peer is not trusted). */
export const MAX_NOTICE_TAGS = 1000;
export const MAX_NOTICE_TAG_LENGTH = 1024;

const OPS = new Set(['delete', 'clear', 'revoke', 'tags']);

/** True for a non-empty array of non-empty strings, each at most `maxLength` long, at most `maxCount` of them. */
function stringList(v: unknown, maxCount: number, maxLength: number): boolean {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.length <= maxCount &&
    v.every((t) => typeof t === 'string' && t.length > 0 && t.length <= maxLength)
  );
}

/** The notice in `n` (parsed from a peer's JSON), or undefined when it is not a well-formed one. */
export function checkNotice(n: unknown): InvalidationNotice | undefined {
  if (n === null || typeof n !== 'object' || Array.isArray(n)) return undefined;
  const { scope, op, keys, pattern, tags } = n as Record<string, unknown>;
  if (typeof scope !== 'string' || typeof op !== 'string' || !OPS.has(op)) return undefined;
  if (op === 'delete' && !(Array.isArray(keys) && keys.every((k) => typeof k === 'string'))) return undefined;
  if (op === 'revoke' && typeof pattern !== 'string') return undefined;
  if (op === 'tags' && !stringList(tags, MAX_NOTICE_TAGS, MAX_NOTICE_TAG_LENGTH)) return undefined;
  return n as InvalidationNotice;
}

/** What a receiver learns besides the notice. */
export interface InvalidationMeta {
  /** The publisher's peer id. */
  readonly from: string;
  /** True when notices of this publisher were missed before this one. */
  readonly gap: boolean;
}

export type InvalidationHandler = (notice: InvalidationNotice, meta: InvalidationMeta) => void;

/** Marker of an invalidation notice among the control messages. */
export const INVALIDATION_MARK = 'inv';

/** Numbers outgoing notices and checks the numbering of incoming ones. */
export class InvalidationSequencer {
  readonly epoch = randomBytes(6).toString('hex');
  private seq = 0;
  private readonly seen = new Map<string, { epoch: string; seq: number }>();

  /** The control message carrying `notice`. */
  wrap(notice: InvalidationNotice): Record<string, unknown> {
    return { c: INVALIDATION_MARK, e: this.epoch, s: ++this.seq, n: notice };
  }

  /** The number of this node's latest notice (heartbeats carry it). */
  get latest(): number {
    return this.seq;
  }

  /**
   * A member's latest number, from its heartbeat: true when notices of it were missed
   * (numbers this node never received). Later copies of them are still applied as they come.
   */
  observe(from: string, epoch: string, seq: number): boolean {
    const last = this.seen.get(from);
    if (last !== undefined && last.epoch === epoch && seq <= last.seq) return false;
    this.seen.set(from, { epoch, seq });
    return last !== undefined && last.epoch === epoch;
  }

  /** The latest numbering known of `from`. */
  latestOf(from: string): { e: string; s: number } | undefined {
    const last = this.seen.get(from);
    return last === undefined ? undefined : { e: last.epoch, s: last.seq };
  }

  /** Numbers a notice that could not be sent (no peer): receivers will see the gap. */
  skip(): void {
    this.seq++;
  }

  /** The notice in a control message, with its gap flag; undefined when malformed. */
  unwrap(
    body: Record<string, unknown>,
    from: string,
  ): { notice: InvalidationNotice; gap: boolean } | undefined {
    const { e, s } = body as { e?: unknown; s?: unknown };
    if (typeof e !== 'string' || typeof s !== 'number') return undefined;
    const notice = checkNotice(body.n);
    if (notice === undefined) return undefined;
    const last = this.seen.get(from);
    // A first notice (or a restarted publisher) sets the base; a late, reordered one is applied as is.
    const gap = last !== undefined && last.epoch === e && s > last.seq + 1;
    if (last === undefined || last.epoch !== e || s > last.seq) this.seen.set(from, { epoch: e, seq: s });
    return { notice, gap };
  }
}
