/**
 * The cache manager (`node.cache`), the caching part of a node: loads the
 * configuration at start, resolves every action's settings, compiles its
 * caching invoker, and wires the management actions and event rules of each
 * cached service. Backends: backend-pool.ts; invalidation: invalidation.ts;
 * management actions: management.ts; figures: stats.ts.
 */

import { MeshError } from '../errors.js';
import type { MeshNetwork } from '../network/index.js';
import type { RequestContext } from '../node/context.js';
import type { ActionInvoker, Interceptor } from '../node/interceptors.js';
import type { NodePart, PartComponents } from '../node/part.js';
import type { ActionEntry, ServiceEntry } from '../node/registry.js';
import { BackendPool } from './backend-pool.js';
import { type CacheBackend, isIndexed, isSynchronous } from './backends/backend.js';
import { BackendRegistry } from './backends/registry.js';
import { type ConfigInput, type LoadedConfig, loadConfig } from './config.js';
import { startNotes } from './config-names.js';
import type { GuardedBackend } from './guard.js';
import { type ActionCache, cachingInvoker, type ServiceCache } from './interceptor.js';
import { Invalidation } from './invalidation.js';
import { compileFastKey, compileKeyBuilder } from './keys.js';
import { addManagementActions } from './management.js';
import { ActionStats } from './metrics.js';
import { NearManager } from './near/index.js';
import { compilePolicies } from './policies/compile.js';
import { createPrometheusRegistry } from './prometheus.js';
import { type ResolvedActionCache, resolveAction, serviceLayers } from './resolve.js';
import { type CacheStats, collectStats } from './stats.js';
import { applyTagRule, checkTags, invalidateTagged, stopRunningMisses } from './tags/invalidate.js';
import { tagBase } from './tags/tags.js';

export type { ManagementRequest } from './management.js';
export type { CacheStats } from './stats.js';

/** What the caching part is given when the node is built. */
export interface CacheInit {
  /** A configuration file path, or the configuration inline (see `NodeOptions.config`). */
  readonly config?: string | ConfigInput;
  /** Where `CACHE_*` variables are read; `process.env` when absent. */
  readonly env?: Record<string, string | undefined>;
  /** Custom backends by name: instances, or definitions (`defineBackend`). */
  readonly backends?: Readonly<Record<string, unknown>>;
  /** The node's network once it joined one (the DHT backend needs it). */
  readonly network: () => MeshNetwork | undefined;
}

/** Owns the cache of one node: the caching part of a node (see src/node/part.ts). */
export class CacheManager implements NodePart {
  readonly name = 'cache';
  /** The interceptor the node installs innermost on every user action. */
  readonly interceptor: Interceptor = { name: 'cache', wrap: (action, next) => this.wrap(action, next) };
  private config: LoadedConfig | undefined;
  private host: PartComponents | undefined;
  private pool: BackendPool | undefined;
  private invalidation: Invalidation | undefined;
  private near: NearManager | undefined;
  private readonly services = new Map<string, ServiceCache>();
  private readonly byPath = new Map<string, ActionCache>();
  private readonly orphanStats = new ActionStats('(unknown)', '(unknown)');
  /** Every service attached, with its actions, to tell configuration entries that name nothing. */
  private readonly hosted = new Map<string, string[]>();
  private prom: ReturnType<typeof createPrometheusRegistry> | undefined;

  constructor(private readonly init: CacheInit) {}

  /** The validated configuration (after `node.start()`). */
  get settings(): LoadedConfig['global'] | undefined {
    return this.config?.global;
  }

  /** @internal Loads the configuration and opens the default backend. */
  async start(host: PartComponents): Promise<void> {
    this.host = host;
    const registry = new BackendRegistry(this.init.backends);
    const defaults = Object.fromEntries(registry.names().map((n) => [n, registry.get(n)?.defaults]));
    const config = loadConfig(this.init.config, this.init.env ?? process.env, {
      sections: registry.sections(),
      defaults,
    });
    this.config = config;
    this.pool = new BackendPool({
      registry,
      config,
      logger: host.logger,
      networkId: host.networkId(),
      network: this.init.network(),
      onEviction: (key) => this.countEviction(key),
    });
    this.near = new NearManager({
      settings: config.global.near,
      logger: host.logger,
      scopeRoot: `${config.global.prefix}${host.networkId()}/`,
      tagBase: tagBase(config.global.prefix, host.networkId()),
      network: this.init.network(),
      services: () => this.services.values(),
      remote: (g) => this.pool?.isRemote(g.name) ?? false,
      defaultBackend: config.global.backend,
    });
    this.near.start();
    this.invalidation = new Invalidation({
      observer: this.near,
      logger: host.logger,
      maxKeyLength: config.global.maxKeyLength,
      managementTimeoutMs: config.global.failure.managementTimeoutMs,
      service: (name) => this.requireService(name),
    });
    await this.pool.get(config.global.backend, 'cache.backend');
  }

  /** @internal Once the node started: warns about configuration entries naming services or actions it does not host. */
  checkNames(): void {
    if (this.config === undefined || this.host === undefined) return;
    const open = [...(this.pool?.values() ?? [])].map((g) => g.name);
    startNotes(this.config, this.hosted, this.init.env ?? process.env, open, this.host.logger);
  }

  /** @internal Closes every backend and forgets the per-action state. */
  async stop(): Promise<void> {
    await this.near?.stop();
    this.near = undefined;
    await this.pool?.closeAll();
    this.services.clear();
    this.byPath.clear();
    this.hosted.clear();
  }

  /** @internal Resolves a service's cached actions and adds its management actions and event rules. */
  async attachService(entry: ServiceEntry): Promise<void> {
    const { config, host, invalidation } = this;
    if (config === undefined || host === undefined || invalidation === undefined)
      throw new MeshError('NOT_STARTED', 'cache manager is not started');
    this.hosted.set(
      entry.name,
      [...entry.actions.values()].filter((a) => !a.internal).map((a) => a.name),
    );
    const svcLayers = serviceLayers(config, entry);
    const global = config.global;
    const svc: ServiceCache = {
      name: entry.name,
      scope: `${global.prefix}${host.networkId()}/${entry.name}/`,
      generation: 0,
      actions: new Map(),
      guards: new Set(),
    };
    for (const action of entry.actions.values()) {
      if (action.internal) continue;
      const resolved = resolveAction(config, entry, action, svcLayers);
      if (resolved === undefined) continue;
      const ac = await this.actionCache(svc, action, resolved);
      svc.actions.set(action.name, ac);
      svc.guards.add(ac.guard);
      this.byPath.set(action.path, ac);
    }
    if (svc.actions.size === 0) return;
    this.services.set(entry.name, svc);
    addManagementActions(
      host,
      entry.name,
      global.access,
      invalidation,
      (tags) => this.invalidateServiceTags(entry.name, tags),
      svc.actions,
    );
    const rules = [
      ...svcLayers.flatMap((l) => l?.options.events ?? []),
      ...global.events.filter((r) => r.services === undefined || r.services.includes(entry.name)),
    ];
    for (const rule of rules) {
      const { keys, tags } = rule;
      host.subscribeInternal(entry.name, rule.event, async (ctx, data) => {
        if (keys !== undefined) await invalidation.applyRule(entry.name, keys, ctx, data);
        if (tags !== undefined)
          await applyTagRule((t) => this.invalidateServiceTags(entry.name, t), tags, ctx, data, host.logger);
      });
    }
  }

  /** The records' key base of this node's network. */
  private get tagBase(): string {
    return tagBase(this.config!.global.prefix, this.host!.networkId());
  }

  /**
   * Invalidates every entry carrying one of `tags`, in every service of the node, on every
   * node sharing a backend with it (Redis) and on every member of its network (notices).
   */
  async invalidateTags(tags: readonly string[]): Promise<{ invalidated: string[] }> {
    this.started();
    const list = checkTags(tags);
    stopRunningMisses(this.services.values());
    await this.recordTags(this.pool!.values(), undefined, list);
    return { invalidated: list };
  }

  /** Invalidates the entries of one service carrying one of `tags` (on every node too). */
  async invalidateServiceTags(service: string, tags: readonly string[]): Promise<{ invalidated: string[] }> {
    this.started();
    const svc = this.requireService(service);
    const list = checkTags(tags);
    stopRunningMisses([svc]);
    await this.recordTags(svc.guards, service, list);
    return { invalidated: list };
  }

  private recordTags(guards: Iterable<GuardedBackend>, service: string | undefined, list: readonly string[]) {
    const timeout = this.config!.global.failure.managementTimeoutMs;
    // After stop() there is no near tier nor network to tell.
    const observer = this.near ?? { beginTags() {}, endTags() {} };
    return invalidateTagged(observer, guards, this.tagBase, service, list, timeout);
  }

  private async actionCache(
    svc: ServiceCache,
    action: ActionEntry,
    r: ResolvedActionCache,
  ): Promise<ActionCache> {
    const guard: GuardedBackend = await this.pool!.get(r.backend, r.backendField);
    const stats = new ActionStats(svc.name, action.name);
    const backend: CacheBackend = guard.backend;
    const sync = isSynchronous(backend) ? backend : undefined;
    const indexed = sync !== undefined && isIndexed(sync) ? sync : undefined;
    const maxKeyLength = this.config!.global.maxKeyLength;
    const fastKeyOf =
      indexed === undefined ? undefined : compileFastKey({ keys: r.keys, key: r.key }, maxKeyLength);
    const p = r.policies;
    const { cluster, tags } = compilePolicies(p, {
      path: action.path,
      service: svc.name,
      timeout: action.options.timeout,
      guard,
      sync,
      networkScope: `${this.config!.global.prefix}${this.host!.networkId()}/`,
      tagBase: this.tagBase,
      logger: this.host!.logger,
    });
    const near = this.near!;
    return {
      // Tagged copies too: the tier indexes them by tag record and drops them on invalidation.
      near:
        sync === undefined
          ? await near.forAction(guard, r.near, compileFastKey({ keys: r.keys, key: r.key }, maxKeyLength))
          : undefined,
      replaced: (key) => near.replaced(svc, key),
      policies: {
        grace: r.ttl > 0 || p.ttlOf ? p.grace : 0,
        softTimeoutMs: p.softTimeoutMs,
        ttlOf: p.ttlOf,
        tags,
        cluster,
      },
      service: svc,
      name: action.name,
      ttl: r.ttl,
      staleTtl: r.ttl > 0 || p.ttlOf !== undefined ? r.staleTtl : 0,
      results: r.results,
      guard,
      sync,
      indexed: fastKeyOf === undefined ? undefined : indexed,
      fastKeyOf,
      fastTable: fastKeyOf === undefined ? undefined : indexed?.table(),
      keyOf: compileKeyBuilder(
        action.name,
        { keys: r.keys, key: r.key as ((p: unknown, c: RequestContext) => string) | undefined },
        maxKeyLength,
      ),
      condition: r.condition as ActionCache['condition'],
      stats,
      inflight: new Map(),
      logger: this.host!.logger,
      onLatency: (op, ms) => {
        stats.recordLatency(ms);
        this.prom?.latency.observe({ backend: guard.name, op }, ms / 1000);
      },
    };
  }

  private wrap(action: { path: string; internal: boolean }, next: ActionInvoker): ActionInvoker {
    const ac = this.byPath.get(action.path);
    return ac === undefined ? next : cachingInvoker(ac, next);
  }

  private countEviction(key: string): void {
    // <prefix><networkId>/<service>/<action key>: the prefix may itself contain '/'
    const scopeEnd = key.indexOf('/', this.config!.global.prefix.length);
    const slash = key.indexOf('/', scopeEnd + 1);
    const svcName = key.slice(scopeEnd + 1, slash);
    const rest = key.slice(slash + 1);
    const colon = rest.indexOf(':');
    const ac = this.services.get(svcName)?.actions.get(colon < 0 ? rest : rest.slice(0, colon));
    (ac?.stats ?? this.orphanStats).evictions++;
  }

  private requireService(service: string): ServiceCache {
    const svc = this.services.get(service);
    if (svc === undefined)
      throw new MeshError('NOT_FOUND', `service '${service}' has no cached actions`, { service });
    return svc;
  }

  private started(): Invalidation {
    if (this.invalidation === undefined) throw new MeshError('NOT_STARTED', 'cache manager is not started');
    return this.invalidation;
  }

  /** Removes every entry of a service; returns how many. */
  clearService(service: string): Promise<number> {
    return this.started().clear(service);
  }

  /** Removes one entry of a service by action key (`get_user:123`); true if it was there. */
  deleteKey(service: string, key: string): Promise<boolean> {
    return this.started().delete(service, key);
  }

  /** Removes the entries of a service whose action key matches a glob; returns how many. */
  revokePattern(service: string, pattern: string): Promise<number> {
    return this.started().revoke(service, pattern);
  }

  /** Counters for the node, per service and per action. */
  stats(): CacheStats {
    const stats = collectStats(this.services.values(), this.pool?.views() ?? [], this.orphanStats);
    if (this.near !== undefined) stats.near = this.near.stats();
    return stats;
  }

  /** The prom-client registry holding meshcache's metrics (prom-client is loaded on first use). */
  get registry() {
    return this.promState().registry;
  }

  private promState(): ReturnType<typeof createPrometheusRegistry> {
    if (this.prom === undefined) {
      this.prom = createPrometheusRegistry(
        () => [...this.services.values()].flatMap((svc) => [...svc.actions.values()].map((a) => a.stats)),
        () => this.pool?.views() ?? [],
      );
    }
    return this.prom;
  }

  /** Prometheus text exposition of the cache metrics. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
