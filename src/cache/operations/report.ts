/**
 * One typed snapshot of everything an operator reads of a node's cache
 * (`node.cache.report()`): the counters per node, service and action, each
 * backend, the near tiers, every coherence channel and whether it is live,
 * the network bus's notices, and the network's peers.
 */
import type { ChannelMode } from '../coherence/channels/channel.js';
import type { CacheStats } from './stats.js';

export interface CacheReport {
  /** When it was taken (epoch ms). */
  readonly at: number;
  /** What `node.cache.stats()` returns: counters, backends, near tiers and bus notices. */
  readonly stats: CacheStats;
  /** Each coherence channel: how it keeps copies coherent, and whether it does now. */
  readonly channels: ReadonlyArray<{ readonly mode: ChannelMode; readonly live: boolean }>;
  /** The network's peers (ids) when the node has joined one; undefined otherwise. */
  readonly peers: readonly string[] | undefined;
}
