/** Options of the DHT cache backend (config: `cache.replication` and `cache.dht`). */
import * as v from 'valibot';
import { fromIssues } from '../../../errors.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

export const dhtOptionsSchema = v.strictObject({
  /** Peers that store each entry (the closest to its key, Kademlia distance). */
  replication: v.optional(int(1, 20), 3),
  /** Prefix of DHT record keys (`/mc/<prefix><key>`); keys that already start with it are not prefixed twice. */
  prefix: v.optional(v.pipe(v.string(), v.maxLength(64)), 'cache:'),
  /** Longest a DHT lookup or put may take, ms; a lookup that takes longer is a miss. */
  opTimeoutMs: v.optional(int(1), 2_000),
  /** Resolve `set` once the near cache holds the value, and replicate in the background. */
  writeBehind: v.optional(v.boolean(), false),
  /** The in-memory copy in front of the DHT. */
  nearCache: v.optional(
    v.strictObject({
      enabled: v.optional(v.boolean(), false),
      /** Most entries kept (least recently used ones leave first). */
      maxEntries: v.optional(int(1), 10_000),
      /** Longest an entry stays without being read from the DHT again, s (0 = bounded by its TTL only). */
      maxAgeSeconds: v.optional(v.pipe(v.number(), v.minValue(0)), 300),
      /** Announce each write on the control topic so other near caches drop older copies. */
      announceWrites: v.optional(v.boolean(), true),
    }),
    {},
  ),
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
    v.strictObject({
      enabled: v.optional(v.boolean(), true),
      /** After a member joins or leaves, use the kad-dht lookup for this long (records move to new holders meanwhile), ms. */
      settleMs: v.optional(int(0), 5_000),
      /** Longest wait for one holder's answer before falling back, ms. */
      timeoutMs: v.optional(int(1), 500),
    }),
    {},
  ),
  /** On reconnecting after having lost every peer, drop the near cache and the records held here. */
  dropOnRejoin: v.optional(v.boolean(), true),
});

export type DhtOptions = v.InferInput<typeof dhtOptionsSchema>;
export type ResolvedDhtOptions = v.InferOutput<typeof dhtOptionsSchema>;

/** Validates options; throws CONFIG_INVALID naming the field. */
export function parseDhtOptions(options: DhtOptions = {}): ResolvedDhtOptions {
  const clean = Object.fromEntries(Object.entries(options).filter(([, x]) => x !== undefined));
  const parsed = v.safeParse(dhtOptionsSchema, clean);
  if (parsed.success) return parsed.output;
  throw fromIssues(parsed.issues, { code: 'CONFIG_INVALID', fieldPrefix: 'cache.dht.' });
}
