/**
 * One invalidation, as every part of coherence passes it around: applied to
 * a `scope` (a service's `<prefix><networkId>/<service>/`, or for tags a
 * record base `<prefix><networkId>/$tags/<service or *>/`), from this node or
 * from another.
 */
import { compileGlob, type Glob } from '../keys/glob.js';

export type Change =
  /** Keys relative to the scope (action keys). */
  | { readonly op: 'delete'; readonly keys: readonly string[] }
  | { readonly op: 'clear' }
  /** Action keys matching a glob. */
  | { readonly op: 'revoke'; readonly pattern: string; readonly glob: Glob }
  /** Tags relative to a record base: every entry carrying one of them. */
  | { readonly op: 'tags'; readonly tags: readonly string[] };

/** A revoke received from elsewhere; a pattern that does not compile clears the whole scope instead. */
export function revokeChange(pattern: string): Change {
  try {
    return { op: 'revoke', pattern, glob: compileGlob(pattern) };
  } catch {
    return { op: 'clear' };
  }
}

/** Where changes are applied: a near tier, or the whole node (tiers, local backends, running misses). */
export interface ChangeSink {
  apply(scope: string, change: Change): void;
  /**
   * Changes may have been missed (a gap, a reconnection): drop whatever they could have touched.
   * `first`: the node's first peer arrived (not a return after losing every peer).
   * `quiet`: nothing worth a log line (a periodic clear while out of touch).
   */
  flush(why: string, first?: boolean, quiet?: boolean): void;
}
