/** State shared by the parts of the DHT backend (operations, invalidations, upkeep). */
import type { Logger } from 'pino';
import type { MeshNetwork } from '../../../network/index.js';
import type { BackendStats } from '../backend.js';
import type { ResolvedDhtOptions } from './options.js';
import type { RuleLog } from './rules.js';

/** Counters of the backend, beyond the caching layer's own. */
export interface DhtBackendStats extends BackendStats {
  dhtHits: number;
  dhtMisses: number;
  lookupFailures: number;
  puts: number;
  putFailures: number;
  invalidationsReceived: number;
  handoffs: number;
  rejoins: number;
  /** Reads and writes served by the one-hop path (holders computed locally). */
  directReads: number;
  directWrites: number;
  /** Reads or writes that fell back to the kad-dht lookup. */
  fallbacks: number;
  /** Holders that answered a read with an older copy and were repaired. */
  repairs: number;
  /** Records (values and tombstones) stored on this node. */
  stored: number;
}

export type DhtCounters = Omit<DhtBackendStats, 'evictions' | 'entries' | 'stored'>;

/** What an invalidation listener learns once an invalidation was applied on this node. */
export interface InvalidationInfo {
  readonly op: 'delete' | 'rule';
  readonly key?: string;
  readonly prefix?: string;
  readonly pattern?: string;
  /** Writer clock of the invalidation (records written before it are dead). */
  readonly at: number;
  /** True when it came from another node. */
  readonly remote: boolean;
}

export interface DhtState {
  readonly options: ResolvedDhtOptions;
  readonly rules: RuleLog;
  readonly counters: DhtCounters;
  network: MeshNetwork | undefined;
  logger: Logger | undefined;
  /** A fresh abort signal bounded by the operation timeout. */
  signal(): AbortSignal;
}

export function newCounters(): DhtCounters {
  return {
    dhtHits: 0,
    dhtMisses: 0,
    lookupFailures: 0,
    puts: 0,
    putFailures: 0,
    invalidationsReceived: 0,
    handoffs: 0,
    rejoins: 0,
    directReads: 0,
    directWrites: 0,
    fallbacks: 0,
    repairs: 0,
  };
}
