/**
 * The near tier part of the cache: one in-process tier (tier.ts) in front of
 * each remote backend a node uses, and what keeps every tier (and, over the
 * network, every memory backend) coherent:
 *
 * - Redis: server-assisted client tracking, or a pub/sub fallback (redis-coherence.ts);
 * - the P2P network, whatever the backend: every invalidation of this node
 *   (clear, delete, revoke, an event rule's, a write that replaced a value, a
 *   tag invalidation) is published as a numbered notice (bus.ts) and applied by
 *   the other members to their near tiers and to their local (non-remote)
 *   backends (for tags: those backends' tag records).
 *
 * The manager creates it at start; the interceptor reads the tiers; the
 * invalidation module tells it of every invalidation (`InvalidationObserver`).
 */
import type { Logger } from 'pino';
import type { MeshNetwork } from '../../network/index.js';
import { type CacheBackend, isSynchronous } from '../backends/backend.js';
import type { NearSettings } from '../config.js';
import type { GuardedBackend } from '../guard.js';
import type { ServiceCache } from '../interceptor.js';
import type { Change, InvalidationObserver } from '../invalidation.js';
import type { FastKey } from '../keys.js';
import { recordLocally, stopRunningMisses, type TagObserver } from '../tags/invalidate.js';
import { validTag } from '../tags/tags.js';
import { NetworkBus } from './bus.js';
import { RedisCoherence } from './redis-coherence.js';
import { NearAction, type NearStats, NearTier } from './tier.js';

export type { NearMode, NearStats } from './tier.js';

/** `stats().near`: the default backend's tier, and every tier by backend name. */
export interface NearStatsView extends NearStats {
  tiers: Record<string, NearStats>;
  /** Network notices published and received (0 without a network). */
  published: number;
  received: number;
  gaps: number;
}

/** True for a backend whose data lives outside the process. */
export function isRemote(backend: CacheBackend, declared: boolean | undefined): boolean {
  return !isSynchronous(backend) && (backend.remote === true || declared === true);
}

export interface NearContext {
  readonly settings: NearSettings;
  readonly logger: Logger;
  /** `<prefix><networkId>/`: every key of this node starts with it. */
  readonly scopeRoot: string;
  /** `<prefix><networkId>/$tags/`: every tag record key of this node's network starts with it. */
  readonly tagBase: string;
  readonly network: MeshNetwork | undefined;
  /** The cached services (for notices from other nodes). */
  readonly services: () => Iterable<ServiceCache>;
  /** Whether a guard's backend is remote. */
  readonly remote: (guard: GuardedBackend) => boolean;
  readonly defaultBackend: string;
}

export class NearManager implements InvalidationObserver, TagObserver {
  private readonly tiers = new Map<string, { tier: NearTier; redis?: RedisCoherence }>();
  private readonly opening = new Map<string, Promise<NearTier | undefined>>();
  private readonly bus: NetworkBus | undefined;

  constructor(private readonly context: NearContext) {
    const network = context.network;
    this.bus =
      network === undefined
        ? undefined
        : new NetworkBus(network, context.logger, {
            apply: (scope, change) => this.applyRemote(scope, change),
            tags: (scope, tags) => this.applyRemoteTags(scope, tags),
            flush: (why, first) => this.flushAll(why, first),
          });
  }

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
    return new NearAction(tier, fillOnHit, fastKeyOf, fastKeyOf === undefined ? undefined : tier.table());
  }

  private async open(guard: GuardedBackend): Promise<NearTier | undefined> {
    const { settings, logger, scopeRoot } = this.context;
    const connection = guard.backend.redisConnection?.();
    if (connection !== undefined) {
      const tier = new NearTier(settings, 'tracking', false);
      const redis = new RedisCoherence(
        connection,
        scopeRoot,
        tier,
        logger.child({ backend: guard.name }),
        settings.redis,
      );
      this.tiers.set(guard.name, { tier, redis });
      await redis.start();
      return tier;
    }
    if (this.bus === undefined) {
      // Nothing would tell this node of another node's write to the shared store.
      logger.info(
        { backend: guard.name },
        'near tier off for this backend: it has no coherence channel (no Redis tracking, no network)',
      );
      return undefined;
    }
    const tier = new NearTier(settings, 'bus', true);
    this.tiers.set(guard.name, { tier });
    logger.info(
      { backend: guard.name, mode: 'bus' },
      'near tier: kept coherent by invalidation notices over the network',
    );
    return tier;
  }

  /** Starts listening to the other members' notices. */
  start(): void {
    this.bus?.start();
  }

  /** This node's invalidation starts: its own near copies go at once. */
  begin(svc: ServiceCache, change: Change): void {
    this.applyTiers(svc.scope, change);
  }

  /** The backends answered: near copies filled meanwhile go too; the other nodes are told. */
  end(svc: ServiceCache, change: Change): void {
    this.applyTiers(svc.scope, change);
    for (const { redis } of this.tiers.values()) {
      if (redis === undefined) continue;
      if (change.op === 'delete') redis.publish('delete', { keys: change.keys.map((k) => svc.scope + k) });
      else if (change.op === 'clear') redis.publish('clear', { prefix: svc.scope });
      else redis.publish('revoke', { prefix: svc.scope, pattern: change.pattern });
    }
    this.bus?.publish(svc.scope, change);
  }

  /** A write that replaced a value (refresh): the other nodes drop their copies. */
  replaced(svc: ServiceCache, key: string): void {
    const change: Change = { op: 'delete', keys: [key.slice(svc.scope.length)] };
    for (const { redis } of this.tiers.values()) redis?.publish('delete', { keys: [key] });
    this.bus?.publish(svc.scope, change);
  }

  /** This node's tag invalidation starts (tag record keys): near copies carrying them go at once. */
  beginTags(recordKeys: readonly string[]): void {
    for (const { tier } of this.tiers.values()) for (const k of recordKeys) tier.delete(k);
  }

  /**
   * The backends answered: copies filled meanwhile go too, and the other nodes are told
   * (`scope`: the record base, `<tagBase><service or *>/`; Redis tracking needs nothing:
   * the records' writes are its notices).
   */
  endTags(scope: string, tags: readonly string[]): void {
    // A tag no entry can carry (validTag) needs no notice: receivers would skip it anyway.
    const carried = tags.filter(validTag);
    if (carried.length === 0) return;
    const keys = carried.map((t) => scope + t);
    this.beginTags(keys);
    for (const { redis } of this.tiers.values()) redis?.publish('tags', { keys });
    this.bus?.publishTags(scope, carried);
  }

  /** Another member's tag invalidation: near copies, running misses, in-process backends' records. */
  private applyRemoteTags(scope: string, tags: readonly string[]): void {
    const base = this.context.tagBase;
    if (!scope.startsWith(base) || !scope.endsWith('/')) return; // not a record base of this network
    const service = scope.slice(base.length, -1);
    const keys = tags.filter(validTag).map((t) => scope + t);
    if (keys.length === 0) return;
    this.beginTags(keys);
    const concerned = [...this.context.services()].filter((svc) => service === '*' || svc.name === service);
    stopRunningMisses(concerned);
    const local = concerned.flatMap((svc) => [...svc.guards].filter((g) => !this.context.remote(g)));
    recordLocally(local, keys);
  }

  private applyTiers(scope: string, change: Change): void {
    for (const { tier } of this.tiers.values()) {
      if (change.op === 'delete') for (const k of change.keys) tier.delete(scope + k);
      else if (change.op === 'clear') tier.clear(scope);
      else tier.revoke(scope, change.glob);
    }
  }

  /** A notice from another member: its near tiers, and its local backends (the memory backend). */
  private applyRemote(scope: string, change: Change): void {
    this.applyTiers(scope, change);
    for (const svc of this.context.services()) {
      if (svc.scope !== scope) continue;
      svc.generation++;
      for (const ac of svc.actions.values()) ac.inflight.clear();
      for (const guard of svc.guards) {
        if (this.context.remote(guard)) continue;
        const b = guard.backend;
        try {
          let done: unknown;
          if (change.op === 'delete') {
            const results = change.keys.map((k) => b.delete(scope + k));
            done = Promise.all(results);
          } else if (change.op === 'clear') done = b.clear(scope);
          else if (typeof b.revoke === 'function') done = b.revoke(scope, change.pattern, change.glob);
          else done = b.clear(scope); // cannot match a pattern: drop the whole scope
          if (done instanceof Promise) done.catch((err) => guard.failed(change.op, err));
        } catch (err) {
          guard.failed(change.op, err);
        }
      }
    }
  }

  /** Notices were missed (a gap, a reconnection): drop what they could have touched. */
  private flushAll(why: string, first = false): void {
    // A normal start caches nothing before its first peer: the flush still runs (it also stops misses
    // already running from storing), but there is nothing worth saying.
    const quiet = first && !this.cachedAnything();
    for (const { tier } of this.tiers.values()) tier.flush();
    let local = 0;
    for (const svc of this.context.services()) {
      svc.generation++;
      for (const ac of svc.actions.values()) ac.inflight.clear();
      for (const guard of svc.guards) {
        if (this.context.remote(guard)) continue;
        local++;
        try {
          const done = guard.backend.clear(svc.scope);
          if (done instanceof Promise) done.catch((err) => guard.failed('clear', err));
        } catch (err) {
          guard.failed('clear', err);
        }
      }
    }
    if (quiet) return;
    this.context.logger.info(
      { why, localScopesCleared: local },
      first
        ? 'near tier: flushed what was cached before the first peer joined (invalidations sent before then could not reach this node)'
        : 'near tier: flushed (invalidation notices may have been missed)',
    );
  }

  /** True once any entry was stored by this node or copied into a near tier. */
  private cachedAnything(): boolean {
    for (const { tier } of this.tiers.values()) if (tier.stats().entries > 0) return true;
    for (const svc of this.context.services())
      for (const ac of svc.actions.values()) if (ac.stats.stores > 0) return true;
    return false;
  }

  stats(): NearStatsView {
    const tiers: Record<string, NearStats> = {};
    for (const [name, { tier }] of this.tiers) tiers[name] = tier.stats();
    const main = tiers[this.context.defaultBackend];
    const bus = this.bus?.counters ?? { published: 0, received: 0, gaps: 0 };
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
    this.bus?.stop();
    for (const { tier, redis } of this.tiers.values()) {
      await redis?.stop();
      tier.close();
    }
    this.tiers.clear();
    this.opening.clear();
  }
}
