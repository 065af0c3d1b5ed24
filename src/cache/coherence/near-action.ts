/** The near tier of one cached action, as the read path sees it. */
import type { Params } from '../../node/types.js';
import type { FastTable } from '../backends/backend.js';
import type { FastKey } from '../keys/builder.js';
import type { NearTier } from './near-tier.js';

export class NearAction {
  constructor(
    readonly tier: NearTier,
    /** The backend tells remaining TTLs (`getWithTtl`): remote hits may fill the tier. */
    readonly fillOnHit: boolean,
    /** The raw key param value (`123`), when the action has one: hits then skip building the key. */
    readonly fastKeyOf: FastKey | undefined,
    readonly table: FastTable | undefined,
  ) {}

  /**
   * True when every write is announced to the other nodes, not only replacements: a tier
   * kept coherent by the network alone (no server tracking) cannot tell whether another
   * node held an older copy (a lookup that failed on the writer is a miss there).
   */
  get announceWrites(): boolean {
    return this.tier.mode === 'bus';
  }

  /** Stores a near copy of `key` (indexed by its fast key when the action has one). */
  fill(key: string, params: Params, value: unknown, remainingSeconds: number, token: number): boolean {
    const fk = this.fastKeyOf === undefined ? undefined : this.fastKeyOf(params);
    return this.tier.fill(key, value, remainingSeconds, token, fk === undefined ? undefined : this.table, fk);
  }
}
