/**
 * The near tiers of one node: one in-process tier (near-tier.ts) in front of
 * each remote backend the node uses, each kept coherent by a channel: Redis
 * tracking or pub/sub for a Redis backend (its own channel), else the network
 * bus (the node's). A tier serves only while its channel is live.
 *
 * The read path reads the tiers; the invalidator applies every change to them
 * (this node's, and the other nodes' the bus hands it).
 */
import type { Logger } from 'pino';
import type { GuardedBackend } from '../backends/guard.js';
import type { FastKey } from '../keys/builder.js';
import type { NearSettings } from '../setup/config.js';
import type { Change } from './change.js';
import type { CoherenceChannel } from './channels/channel.js';
import type { NetworkBus } from './channels/network-bus.js';
import type { NearAction } from './near-action.js';
import type { NearStats, NearTier } from './near-tier.js';

export type { NearMode, NearStats } from './near-tier.js';

/** `stats().near`: the default backend's tier, and every tier by backend name. */
export interface NearStatsView extends NearStats {
  tiers: Record<string, NearStats>;
  /** Network notices published and received (0 without a network). */
  published: number;
  received: number;
  gaps: number;
}

export interface NearContext {
  readonly settings: NearSettings;
  readonly logger: Logger;
  /** `<prefix><networkId>/`: every key of this node starts with it. */
  readonly scopeRoot: string;
  /** The node's network bus, when it has a network. */
  readonly bus: NetworkBus | undefined;
  /** Whether a guard's backend is remote. */
  readonly remote: (guard: GuardedBackend) => boolean;
  readonly defaultBackend: string;
  /** The staleness bound, ms (0: none). */
  readonly maxStalenessMs: number;
}

interface Tiered {
  readonly tier: NearTier;
  readonly channel: CoherenceChannel;
  readonly unlisten: () => void;
}

export class NearTiers {
  private readonly tiers = new Map<string, Tiered>();
  private readonly opening = new Map<string, Promise<NearTier | undefined>>();
  private stopped = false;

  constructor(private readonly context: NearContext) {}

  /** The near tier of an action on `guard`'s backend, or undefined (local backend, `near: false`, disabled). */
  async forAction(
    guard: GuardedBackend,
    wanted: boolean,
    fastKeyOf: FastKey | undefined,
  ): Promise<NearAction | undefined> {
    if (!wanted || !this.context.settings.enabled || !this.context.remote(guard)) return undefined;
    if (guard.backend.ownNearCopies === true) return undefined;
    let pending = this.opening.get(guard.name);
    if (pending === undefined) {
      pending = this.open(guard);
      this.opening.set(guard.name, pending);
    }
    const tier = await pending;
    if (tier === undefined) return undefined;
    const fillOnHit = typeof guard.backend.getWithTtl === 'function';
    const { NearAction } = await import('./near-action.js');
    return new NearAction(tier, fillOnHit, fastKeyOf, fastKeyOf === undefined ? undefined : tier.table());
  }

  private async open(guard: GuardedBackend): Promise<NearTier | undefined> {
    const { settings, logger, scopeRoot, bus } = this.context;
    // Loaded with the first remote backend: a memory-only node does not pay for it at start.
    const { NearTier } = await import('./near-tier.js');
    const connection = guard.backend.redisConnection?.();
    if (connection !== undefined) {
      const { RedisChannel } = await import('./channels/redis.js');
      const tier = new NearTier(settings, 'tracking', false);
      const redis = new RedisChannel(
        connection,
        scopeRoot,
        tier,
        logger.child({ backend: guard.name }),
        settings.redis,
        this.context.maxStalenessMs,
      );
      this.attach(guard.name, tier, redis);
      await redis.start();
      return tier;
    }
    if (bus === undefined) {
      // Nothing would tell this node of another node's write to the shared store.
      logger.info(
        { backend: guard.name },
        'near tier off for this backend: it has no coherence channel (no Redis tracking, no network)',
      );
      return undefined;
    }
    const tier = new NearTier(settings, 'bus', bus.live);
    this.attach(guard.name, tier, bus);
    logger.info(
      { backend: guard.name, mode: 'bus' },
      'near tier: kept coherent by invalidation notices over the network',
    );
    return tier;
  }

  /** The tier serves while its channel is live, and starts again empty when it comes back after a loss. */
  private attach(name: string, tier: NearTier, channel: CoherenceChannel): void {
    const unlisten = channel.onLive((state) =>
      state === 'live' ? tier.up() : state === 'paused' ? tier.pause() : tier.down(),
    );
    this.tiers.set(name, { tier, channel, unlisten });
  }

  /** Every channel that tells other nodes of this node's changes (the bus once, each Redis channel). */
  channels(): CoherenceChannel[] {
    // After stop() there is nobody to tell.
    if (this.stopped) return [];
    const out = new Set<CoherenceChannel>();
    for (const { channel } of this.tiers.values()) out.add(channel);
    if (this.context.bus !== undefined) out.add(this.context.bus);
    return [...out];
  }

  /** Drops the near copies a change covers, in every tier. */
  apply(scope: string, change: Change): void {
    for (const { tier } of this.tiers.values()) tier.apply(scope, change);
  }

  /** Drops every near copy. */
  flush(): void {
    for (const { tier } of this.tiers.values()) tier.flush();
  }

  stats(): NearStatsView {
    const tiers: Record<string, NearStats> = {};
    for (const [name, { tier, channel }] of this.tiers) tiers[name] = { ...tier.stats(), mode: channel.mode };
    const main = tiers[this.context.defaultBackend];
    const bus = this.context.bus?.counters ?? { published: 0, received: 0, gaps: 0 };
    return {
      mode: main?.mode ?? 'off',
      entries: main?.entries ?? 0,
      hits: main?.hits ?? 0,
      fills: main?.fills ?? 0,
      invalidations: main?.invalidations ?? 0,
      flushes: main?.flushes ?? 0,
      live: main?.live ?? false,
      tiers,
      ...bus,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const { tier, channel, unlisten } of this.tiers.values()) {
      unlisten();
      if (channel !== this.context.bus) await channel.stop();
      tier.close();
    }
    this.tiers.clear();
    this.opening.clear();
  }
}
