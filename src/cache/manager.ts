/**
 * The cache manager (`node.cache`), the caching part of a node: composes the
 * jobs of src/cache at start (setup/: configuration, resolution, compilation;
 * backends/: the pool; coherence/: near tiers, channels, the invalidator;
 * operations/: management actions, statistics, Prometheus) and hands each
 * cached action's compiled lookup (read/) to the host.
 */

import { MeshError } from '../errors.js';
import type { MeshNetwork } from '../network/index.js';
import type { ActionInfo, ActionInvoker, Interceptor } from '../node/interceptors.js';
import type { NodePart, PartComponents } from '../node/part.js';
import type { ActionEntry, ServiceEntry } from '../node/registry.js';
import { BackendPool } from './backends/pool.js';
import { BackendRegistry } from './backends/registry.js';
import type { NetworkBus } from './coherence/channels/network-bus.js';
import { ruleHandler } from './coherence/event-rules.js';
import { Invalidator } from './coherence/invalidator.js';
import { NearTiers } from './coherence/near-tiers.js';
import { tagBase } from './coherence/tag-records.js';
import { addManagementActions, authorizeStats } from './operations/management.js';
import { ActionStats } from './operations/metrics.js';
import type { NetworkStats, NetworkStatsOptions } from './operations/network-view.js';
import { createPrometheusRegistry } from './operations/prometheus.js';
import type { CacheReport } from './operations/report.js';
import { type CacheStats, collectStats } from './operations/stats.js';
import type { ActionCache, ServiceCache } from './read/action-cache.js';
import { cachingInvoker } from './read/invoker.js';
import { compileAction } from './setup/compile.js';
import { type ConfigInput, type LoadedConfig, loadConfig } from './setup/config.js';
import { startNotes } from './setup/config-names.js';
import { type CacheDeclaration, declarationOf } from './setup/declaration.js';
import type { RemoteActions } from './setup/remote-actions.js';
import { type ResolvedActionCache, resolveAction, serviceLayers } from './setup/resolve.js';
import { type CacheTracing, cacheTracing } from './setup/tracing.js';

export type { ManagementRequest } from './operations/management.js';
export type { NetworkStats, NetworkStatsOptions, NodeStatsEntry } from './operations/network-view.js';
export type { CacheReport } from './operations/report.js';
export type { CacheStats } from './operations/stats.js';
export type { CacheDeclaration } from './setup/declaration.js';

/** What the caching part is given when the node is built. */
export interface CacheInit {
  /** A configuration file path, or the configuration inline (see `NodeOptions.config`). */
  readonly config?: string | ConfigInput;
  /** Where `CACHE_*` variables are read; `process.env` when absent. */
  readonly env?: Record<string, string | undefined>;
  /** Custom backends by name: instances, or definitions (`defineBackend`). */
  readonly backends?: Readonly<Record<string, unknown>>;
  /** The node's network once it joined one (the DHT backend and the network bus need it). */
  readonly network: () => MeshNetwork | undefined;
}

/** What exists between start and stop. */
interface Running {
  readonly config: LoadedConfig;
  readonly host: PartComponents;
  readonly pool: BackendPool;
  readonly near: NearTiers;
  readonly bus: NetworkBus | undefined;
  readonly invalidator: Invalidator;
  readonly tagBase: string;
  /** Set when an OpenTelemetry SDK was registered at start; undefined: no tracing code runs. */
  readonly tracing: CacheTracing | undefined;
}

/** Owns the cache of one node: the caching part of a node (see src/node/part.ts). */
export class CacheManager implements NodePart {
  readonly name = 'cache';
  /** The interceptor the node installs innermost on every user action. */
  readonly interceptor: Interceptor = { name: 'cache', wrap: (action, next) => this.wrap(action, next) };
  private running: Running | undefined;
  /** False once stopped: the near tiers are closed (`stats()` has none to show). */
  private nearOpen = false;
  private readonly services = new Map<string, ServiceCache>();
  private readonly byPath = new Map<string, ActionCache>();
  private readonly orphanStats = new ActionStats('(unknown)', '(unknown)');
  /** Every service attached, with its actions, to tell configuration entries that name nothing. */
  private readonly hosted = new Map<string, string[]>();
  /** Each cached action's declaration as data, by path (announced to the other members). */
  private readonly declarations = new Map<string, CacheDeclaration>();
  private prom: ReturnType<typeof createPrometheusRegistry> | undefined;
  private remoteActions: RemoteActions | undefined;
  private offRemote: (() => void) | undefined;

  constructor(private readonly init: CacheInit) {}

  /** The validated configuration (after `node.start()`). */
  get settings(): LoadedConfig['global'] | undefined {
    return this.running?.config.global;
  }

  /** @internal Loads the configuration, opens the default backend and the coherence channels. */
  async start(host: PartComponents): Promise<void> {
    const registry = new BackendRegistry(this.init.backends);
    const defaults = Object.fromEntries(registry.names().map((n) => [n, registry.get(n)?.defaults]));
    const config = loadConfig(this.init.config, this.init.env ?? process.env, {
      sections: registry.sections(),
      defaults,
    });
    const global = config.global;
    const network = this.init.network();
    const tracing = await cacheTracing(global.tracing.keys);
    const pool = new BackendPool({
      guard: tracing?.guard,
      registry,
      config,
      logger: host.logger,
      networkId: host.networkId(),
      network,
      onEviction: (key) => this.countEviction(key),
    });
    const remote = (g: { name: string }) => pool.isRemote(g.name);
    // Loaded only with a network: a node of one process does not pay for it at start.
    const bus =
      network === undefined
        ? undefined
        : new (await import('./coherence/channels/network-bus.js')).NetworkBus(
            network,
            host.logger,
            global.coherence.boundMemory ? global.coherence.maxStalenessMs : 0,
          );
    network?.keepInTouch(global.coherence.maxStalenessMs);
    const near = new NearTiers({
      settings: global.near,
      logger: host.logger,
      scopeRoot: `${global.prefix}${host.networkId()}/`,
      bus,
      remote,
      defaultBackend: global.backend,
      maxStalenessMs: global.coherence.maxStalenessMs,
    });
    const base = tagBase(global.prefix, host.networkId());
    const invalidator = new Invalidator({
      logger: host.logger,
      maxKeyLength: global.maxKeyLength,
      managementTimeoutMs: global.failure.managementTimeoutMs,
      tagBase: base,
      service: (name) => this.requireService(name),
      services: () => this.services.values(),
      backends: () => pool.values(),
      remote,
      near,
    });
    bus?.start(invalidator);
    // Loaded only with a network, as the bus is.
    if (network !== undefined) this.remoteActions = await this.watchRemoteActions(network, host);
    host.addInternalAction('$node', 'stats', (ctx) => {
      authorizeStats(global.access, ctx);
      return this.stats();
    });
    this.running = { config, host, pool, near, bus, invalidator, tagBase: base, tracing };
    this.nearOpen = true;
    await pool.get(global.backend, 'cache.backend');
    // Catalogs that arrived while the network joined, before this part started (the backend is open now).
    void this.remoteActions?.refresh();
  }

  /** @internal Once the node started: warns about configuration entries naming services or actions it does not host. */
  checkNames(): void {
    const running = this.running;
    if (running === undefined) return;
    const open = [...running.pool.values()].map((g) => g.name);
    startNotes(running.config, this.hosted, this.init.env ?? process.env, open, running.host.logger);
  }

  /** @internal Closes every backend and forgets the per-action state. */
  async stop(): Promise<void> {
    const running = this.running;
    this.offRemote?.();
    this.offRemote = undefined;
    this.remoteActions = undefined;
    this.nearOpen = false;
    running?.bus?.stop();
    await running?.near.stop();
    await running?.pool.closeAll();
    this.services.clear();
    this.byPath.clear();
    this.hosted.clear();
    this.declarations.clear();
  }

  /** @internal What other members learn of a cached action (its declaration as data). */
  describeAction(action: { path: string }): Record<string, unknown> | undefined {
    const declared = this.declarations.get(action.path);
    return declared === undefined ? undefined : { cache: declared };
  }

  /** @internal This node's backends, for `$node/info`. */
  describe(): Record<string, unknown> {
    return {
      backends: (this.running?.pool.views() ?? []).map((b) => b.name),
    };
  }

  /**
   * Every member of the network with its services and `cache.stats()` (or why
   * there are none: a member that refuses, or does not answer within `timeoutMs`).
   * This node comes first. Readable where each member's `cache.access.peers` allows.
   */
  async networkStats(options?: NetworkStatsOptions): Promise<NetworkStats> {
    // Loaded on first use: a node of one process never needs it.
    const { networkStats } = await import('./operations/network-view.js');
    return networkStats(
      this.init.network(),
      { services: [...this.hosted.keys()], stats: () => this.stats() },
      options,
    );
  }

  /** Compiles one action's cache state and makes it the action's lookup. */
  private async compile(
    svc: ServiceCache,
    action: Pick<ActionEntry, 'service' | 'name' | 'path' | 'options'>,
    resolved: ResolvedActionCache,
  ): Promise<void> {
    const { config, host, pool, near, invalidator, tagBase } = this.started();
    const global = config.global;
    const ac = await compileAction(svc, action, resolved, {
      guard: await pool.get(resolved.backend, resolved.backendField),
      near,
      maxKeyLength: global.maxKeyLength,
      networkScope: `${global.prefix}${host.networkId()}/`,
      tagBase,
      logger: host.logger,
      replaced: (key) => invalidator.replaced(svc, key),
      onLatency: (stats, op, ms) => {
        stats.recordLatency(ms);
        this.prom?.latency.observe({ backend: ac.guard.name, op }, ms / 1000);
      },
    });
    svc.actions.set(action.name, ac);
    svc.guards.add(ac.guard);
    this.byPath.set(action.path, ac);
  }

  /** Routes for cached actions other members host, answered here from near copies (setup/remote-actions.ts). */
  private async watchRemoteActions(network: MeshNetwork, host: PartComponents): Promise<RemoteActions> {
    const { RemoteActions } = await import('./setup/remote-actions.js');
    const remote = new RemoteActions({
      network,
      host,
      logger: host.logger,
      hostsLocally: (service) => this.hosted.has(service),
      scopeOf: (service) => this.scopeOf(service),
      shares: (backend) => {
        const { pool, config } = this.started();
        return config.global.near.enabled && pool.isRemote(backend) && pool.has(backend);
      },
      install: async (service, name, resolved) => {
        const svc = this.services.get(service) ?? this.serviceCache(service);
        this.services.set(service, svc);
        await this.compile(svc, { service, name, path: `${service}/${name}`, options: {} }, resolved);
      },
      uninstall: (service, name) => {
        this.byPath.delete(`${service}/${name}`);
        const svc = this.services.get(service);
        svc?.actions.delete(name);
        if (svc?.actions.size === 0 && !this.hosted.has(service)) this.services.delete(service);
      },
    });
    this.offRemote = remote.watch();
    return remote;
  }

  /** `<prefix><network>/<service>/`: every key of the service starts with it. */
  private scopeOf(service: string): string {
    const { config, host } = this.started();
    return `${config.global.prefix}${host.networkId()}/${service}/`;
  }

  private serviceCache(name: string): ServiceCache {
    return { name, scope: this.scopeOf(name), generation: 0, actions: new Map(), guards: new Set() };
  }

  /** Whether member `peer` announced that it hosts `service`. */
  private peerHosts(peer: string, service: string): boolean {
    return this.init.network()?.catalogs.of(peer)?.index.has(service) ?? false;
  }

  /** @internal Resolves a service's cached actions and adds its management actions and event rules. */
  async attachService(entry: ServiceEntry): Promise<void> {
    const { config, host, invalidator } = this.started();
    this.hosted.set(
      entry.name,
      [...entry.actions.values()].filter((a) => !a.internal).map((a) => a.name),
    );
    const svcLayers = serviceLayers(config, entry);
    const global = config.global;
    const svc = this.serviceCache(entry.name);
    for (const action of entry.actions.values()) {
      if (action.internal) continue;
      const resolved = resolveAction(config, entry, action, svcLayers);
      if (resolved === undefined) continue;
      this.declarations.set(action.path, declarationOf(resolved, svc.scope));
      await this.compile(svc, action, resolved);
    }
    void this.remoteActions?.refresh();
    if (svc.actions.size === 0) return;
    this.services.set(entry.name, svc);
    addManagementActions(
      host,
      entry.name,
      global.access,
      invalidator,
      svc.actions,
      (peer, service) => this.peerHosts(peer, service),
      // Loaded on the first `cache/keys` or `cache/get`: most nodes never read entries this way.
      {
        keys: async (glob, limit) => (await import('./read/peek.js')).entryReader(svc).keys(glob, limit),
        get: async (key) => (await import('./read/peek.js')).entryReader(svc).get(key),
      },
    );
    const rules = [
      ...svcLayers.flatMap((l) => l?.options.events ?? []),
      ...global.events.filter((r) => r.services === undefined || r.services.includes(entry.name)),
    ];
    for (const rule of rules)
      host.subscribeInternal(entry.name, rule.event, ruleHandler(invalidator, entry.name, rule, host.logger));
  }

  /**
   * Invalidates every entry carrying one of `tags`, in every service of the node, on every
   * node sharing a backend with it (Redis) and on every member of its network (notices).
   */
  invalidateTags(tags: readonly string[]): Promise<{ invalidated: string[] }> {
    return this.started().invalidator.tags(undefined, tags);
  }

  /** Invalidates the entries of one service carrying one of `tags` (on every node too). */
  invalidateServiceTags(service: string, tags: readonly string[]): Promise<{ invalidated: string[] }> {
    return this.started().invalidator.tags(service, tags);
  }

  private wrap(action: ActionInfo, next: ActionInvoker): ActionInvoker {
    const ac = this.byPath.get(action.path);
    if (ac !== undefined) {
      const tracing = this.started().tracing;
      return tracing === undefined ? cachingInvoker(ac, next) : tracing.invoker(ac, next);
    }
    if (action.remote === true && action.name.startsWith('cache/'))
      return this.afterManagement(action.service, next);
    return next;
  }

  /**
   * A management call this node made to another member (the service's host): once it
   * resolved, this node's own near copies of the service are dropped and its running
   * misses fenced, so this node never serves what the call removed.
   */
  private afterManagement(service: string, next: ActionInvoker): ActionInvoker {
    return async (ctx, params) => {
      const result = await next(ctx, params);
      const svc = this.services.get(service);
      if (svc !== undefined) this.running?.invalidator.apply(svc.scope, { op: 'clear' });
      return result;
    };
  }

  private countEviction(key: string): void {
    // <prefix><networkId>/<service>/<action key>: the prefix may itself contain '/'
    const scopeEnd = key.indexOf('/', this.running!.config.global.prefix.length);
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

  private started(): Running {
    if (this.running === undefined) throw new MeshError('NOT_STARTED', 'cache manager is not started');
    return this.running;
  }

  /** Removes every entry of a service; returns how many. */
  clearService(service: string): Promise<number> {
    return this.started().invalidator.clear(service);
  }

  /** Removes one entry of a service by action key (`get_user:123`); true if it was there. */
  deleteKey(service: string, key: string): Promise<boolean> {
    return this.started().invalidator.delete(service, key);
  }

  /** Removes the entries of a service whose action key matches a glob; returns how many. */
  revokePattern(service: string, pattern: string): Promise<number> {
    return this.started().invalidator.revoke(service, pattern);
  }

  /** Counters for the node, per service and per action, each backend's figures and the near tiers'. */
  stats(): CacheStats {
    const running = this.running;
    const stats = collectStats(this.services.values(), running?.pool.views() ?? [], this.orphanStats);
    if (running !== undefined && this.nearOpen) stats.near = running.near.stats();
    return stats;
  }

  /** Everything an operator reads, in one snapshot: `stats()`, the coherence channels, the network's peers. */
  report(): CacheReport {
    const running = this.running;
    return {
      at: Date.now(),
      stats: this.stats(),
      channels: (running?.near.channels() ?? []).map((c) => ({ mode: c.mode, live: c.live })),
      peers: this.init.network()?.peers(),
    };
  }

  /** The prom-client registry holding meshcache's metrics (prom-client is loaded on first use). */
  get registry() {
    return this.promState().registry;
  }

  private promState(): ReturnType<typeof createPrometheusRegistry> {
    if (this.prom === undefined) {
      this.prom = createPrometheusRegistry(
        () => [...this.services.values()].flatMap((svc) => [...svc.actions.values()].map((a) => a.stats)),
        () => this.running?.pool.views() ?? [],
      );
    }
    return this.prom;
  }

  /** Prometheus text exposition of the cache metrics. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
