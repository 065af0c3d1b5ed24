/** Options of the DHT cache backend (config: `cache.replication` and `cache.dht`). */
import * as v from 'valibot';
import { fromIssues, MeshError } from '../../../errors.js';
import { strict } from '../strict.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

export const dhtOptionsSchema = strict({
  /** Peers that store each entry (the closest to its key, Kademlia distance). */
  replication: v.optional(int(1, 20), 3),
  /** Prefix of DHT record keys (`/mc/<prefix><key>`); keys that already start with it are not prefixed twice. */
  prefix: v.optional(v.pipe(v.string(), v.maxLength(64)), 'cache:'),
  /** Longest a DHT lookup or put may take, ms; a lookup that takes longer is a miss. */
  opTimeoutMs: v.optional(int(1), 2_000),
  /** Resolve `set` at once and store on the holders in the background (this node reads its own write meanwhile). */
  writeBehind: v.optional(v.boolean(), false),
  /**
   * When a `set` resolves: `all`, once every holder has stored it (a read on any node
   * afterwards sees it); `primary`, once the key's closest holder has (the others are
   * sent it at the same moment and catch up without being waited for, as Redis replicas
   * do: a holder reading its own copy may see the previous value for that moment).
   * Deletes and tag invalidations always wait for every holder (docs/dht.md, "Writes").
   */
  writeAck: v.optional(v.picklist(['all', 'primary']), 'all'),
  /** How often expired records, tombstones and invalidation rules are removed and stray records handed to their holders, ms. */
  sweepIntervalMs: v.optional(int(1), 30_000),
  /** How long tombstones and invalidation rules are kept, s: longer than any write can be in flight. */
  tombstoneTtlSeconds: v.optional(v.pipe(v.number(), v.gtValue(0)), 600),
  /** Delay that batches replication upkeep after peers join or leave, ms. */
  upkeepDelayMs: v.optional(int(0), 500),
  /**
   * Largest clock difference between nodes taken as harmless, ms. A peer whose
   * clock is off by more has its timestamps re-based to this node's clock (and
   * is logged); no timestamp is trusted further ahead than this (docs/dht.md, "Clocks").
   */
  clockToleranceMs: v.optional(int(0, 60_000), 1_000),
  /**
   * One-hop reads and writes: when this node knows the full membership, it
   * computes the holders of a key itself and talks to them directly (the
   * kad-dht lookup stays the fallback).
   */
  oneHop: v.optional(
    strict({
      enabled: v.optional(v.boolean(), true),
      /** After a member joins or leaves, use the kad-dht lookup for this long (records move to new holders meanwhile), ms. */
      settleMs: v.optional(int(0), 5_000),
      /** Longest wait for the holders' answers before falling back to the lookup, ms. */
      timeoutMs: v.optional(int(1), 500),
      /**
       * `hedged`: ask the closest holder, and the others only when it has no copy, fails or is
       * slower than `hedgeMs`; `parallel`: ask every holder at once. Either way the first copy
       * is returned (BENCHMARKS.md "DHT one-hop" compares both).
       */
      read: v.optional(v.picklist(['hedged', 'parallel']), 'hedged'),
      /** How long a hedged read waits for the closest holder before asking the others, ms. */
      hedgeMs: v.optional(int(0), 2),
    }),
    {},
  ),
  /** On reconnecting after having lost every peer, drop the records held here (the near tier is flushed too). */
  dropOnRejoin: v.optional(v.boolean(), true),
});

export type DhtOptions = v.InferInput<typeof dhtOptionsSchema>;
export type ResolvedDhtOptions = v.InferOutput<typeof dhtOptionsSchema>;

/** Validates options; throws CONFIG_INVALID naming the field. */
export function parseDhtOptions(options: DhtOptions = {}): ResolvedDhtOptions {
  if ((options as Record<string, unknown>).nearCache !== undefined) {
    throw new MeshError(
      'CONFIG_INVALID',
      'cache.dht.nearCache was removed: the near tier (cache.near: { enabled, maxEntries, maxBytes, maxAgeSeconds }) now sits in front of the DHT, as of every remote backend',
      { field: 'cache.dht.nearCache' },
    );
  }
  const clean = Object.fromEntries(Object.entries(options).filter(([, x]) => x !== undefined));
  const parsed = v.safeParse(dhtOptionsSchema, clean);
  if (parsed.success) return parsed.output;
  throw fromIssues(parsed.issues, { code: 'CONFIG_INVALID', fieldPrefix: 'cache.dht.' });
}
