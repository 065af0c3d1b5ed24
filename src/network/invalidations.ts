/**
 * Cache-agnostic invalidation notices over the network's control topic. The
 * network carries them and numbers them; it does not interpret them (the
 * caching part does: src/cache/near/bus.ts).
 *
 * Every notice carries its publisher's epoch (random, per process start) and a
 * sequence number. A receiver that sees a publisher skip numbers learns it
 * missed notices (`gap: true`): it must then drop whatever they could have
 * touched.
 */
import { randomBytes } from 'node:crypto';

/** What to drop: entries under `scope`, by key, all of them, or those matching a glob. */
export interface InvalidationNotice {
  /** A namespace the keys live in (for the cache: a service's key scope). */
  readonly scope: string;
  readonly op: 'delete' | 'clear' | 'revoke';
  /** `delete`: the keys (relative to `scope`). */
  readonly keys?: readonly string[];
  /** `revoke`: the glob. */
  readonly pattern?: string;
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

  /** Numbers a notice that could not be sent (no peer): receivers will see the gap. */
  skip(): void {
    this.seq++;
  }

  /** The notice in a control message, with its gap flag; undefined when malformed. */
  unwrap(
    body: Record<string, unknown>,
    from: string,
  ): { notice: InvalidationNotice; gap: boolean } | undefined {
    const { e, s, n } = body as { e?: unknown; s?: unknown; n?: Partial<InvalidationNotice> };
    if (typeof e !== 'string' || typeof s !== 'number' || n === null || typeof n !== 'object')
      return undefined;
    if (typeof n.scope !== 'string' || (n.op !== 'delete' && n.op !== 'clear' && n.op !== 'revoke'))
      return undefined;
    if (n.op === 'delete' && !(Array.isArray(n.keys) && n.keys.every((k) => typeof k === 'string')))
      return undefined;
    if (n.op === 'revoke' && typeof n.pattern !== 'string') return undefined;
    const last = this.seen.get(from);
    // A first notice (or a restarted publisher) sets the base; a late, reordered one is applied as is.
    const gap = last !== undefined && last.epoch === e && s > last.seq + 1;
    if (last === undefined || last.epoch !== e || s > last.seq) this.seen.set(from, { epoch: e, seq: s });
    return { notice: n as InvalidationNotice, gap };
  }
}
