/** Options of the DHT cache backend (config: `cache.replication` and `cache.dht`). */
import { z } from 'zod';
import { fromZodError, type MeshError } from '../../../errors.js';

export const dhtOptionsSchema = z.strictObject({
  /** Peers that store each entry (the closest to its key, Kademlia distance). */
  replication: z.number().int().min(1).max(20).default(3),
  /** Prefix of DHT record keys (`/mc/<prefix><key>`); keys that already start with it are not prefixed twice. */
  prefix: z.string().max(64).default('cache:'),
  /** Longest a DHT lookup or put may take, ms; a lookup that takes longer is a miss. */
  opTimeoutMs: z.number().int().positive().default(2_000),
  /** Resolve `set` once the near cache holds the value, and replicate in the background. */
  writeBehind: z.boolean().default(false),
  /** The in-memory copy in front of the DHT. */
  nearCache: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Most entries kept (least recently used ones leave first). */
      maxEntries: z.number().int().positive().default(10_000),
      /** Longest an entry stays without being read from the DHT again, s (0 = bounded by its TTL only). */
      maxAgeSeconds: z.number().nonnegative().default(300),
      /** Announce each write on the control topic so other near caches drop older copies. */
      announceWrites: z.boolean().default(true),
    })
    .prefault({}),
  /** How often expired records, tombstones and invalidation rules are removed and stray records handed to their holders, ms. */
  sweepIntervalMs: z.number().int().positive().default(30_000),
  /** How long tombstones and invalidation rules are kept, s: longer than any write can be in flight. */
  tombstoneTtlSeconds: z.number().positive().default(600),
  /** Delay that batches replication upkeep after peers join or leave, ms. */
  upkeepDelayMs: z.number().int().nonnegative().default(500),
  /**
   * Largest clock difference between nodes taken as harmless, ms. A peer whose
   * clock is off by more has its timestamps re-based to this node's clock (and
   * is logged); no timestamp is trusted further ahead than this (docs/dht.md, "Clocks").
   */
  clockToleranceMs: z.number().int().min(0).max(60_000).default(1_000),
  /**
   * One-hop reads and writes: when this node knows the full membership, it
   * computes the holders of a key itself and talks to them directly (the
   * kad-dht lookup stays the fallback).
   */
  oneHop: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** After a member joins or leaves, use the kad-dht lookup for this long (records move to new holders meanwhile), ms. */
      settleMs: z.number().int().nonnegative().default(5_000),
      /** Longest wait for one holder's answer before falling back, ms. */
      timeoutMs: z.number().int().positive().default(500),
    })
    .prefault({}),
  /** On reconnecting after having lost every peer, drop the near cache and the records held here. */
  dropOnRejoin: z.boolean().default(true),
});

export type DhtOptions = z.input<typeof dhtOptionsSchema>;
export type ResolvedDhtOptions = z.output<typeof dhtOptionsSchema>;

/** Validates options; throws CONFIG_INVALID naming the field. */
export function parseDhtOptions(options: DhtOptions = {}): ResolvedDhtOptions {
  const clean = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const parsed = dhtOptionsSchema.safeParse(clean);
  if (parsed.success) return parsed.data;
  throw fromZodError(parsed.error, { code: 'CONFIG_INVALID', fieldPrefix: 'cache.dht.' }) satisfies MeshError;
}
