/**
 * The cache manager (`node.cache`): loads the configuration at start, opens
 * the backends, resolves every action's settings, installs the caching
 * interceptor, the management actions and the event rules, and answers
 * `stats()` and Prometheus scrapes.
 */
import { z } from 'zod';
import { MeshError } from '../errors.js';
import type { MeshNetwork } from '../network/index.js';
import type { RequestContext } from '../node/context.js';
import type { ActionInvoker, Interceptor } from '../node/interceptors.js';
import type { NodePart, PartComponents } from '../node/part.js';
import type { ActionEntry, ServiceEntry } from '../node/registry.js';
import type { CacheBackend } from './backends/backend.js';
import { MemoryBackend } from './backends/memory.js';
import { type ConfigInput, type LoadedConfig, loadConfig } from './config.js';
import { fillTemplate } from './event-rules.js';
import { compileGlob, hasWildcard, MAX_RAW_PATTERN_LENGTH } from './glob.js';
import { GuardedBackend } from './guard.js';
import { type ActionCache, cachingInvoker, type ServiceCache } from './interceptor.js';
import { compileFastKey, compileKeyBuilder, hashKey } from './keys.js';
import { ActionStats, type CacheStatsView, createPrometheusRegistry, summarize } from './metrics.js';
import { type ResolvedActionCache, resolveAction, serviceLayers } from './resolve.js';

/** `node.cache.stats()`: node totals, then per service and per action. */
export interface CacheStats extends CacheStatsView {
  services: Record<string, CacheStatsView & { actions: Record<string, CacheStatsView> }>;
  /** The same per-action figures, keyed by path (`user/get_user`). */
  actions: Record<string, CacheStatsView>;
  backends: Record<string, { errors: number; available: boolean; entries?: number; evictions?: number }>;
}

/** A management operation, as given to `cache.access.authorize`. */
export interface ManagementRequest {
  service: string;
  operation: 'clear' | 'delete' | 'revoke';
}

const deleteParams = z.strictObject({ key: z.string().min(1).max(4096) });
const revokeParams = z.strictObject({ pattern: z.string().min(1).max(MAX_RAW_PATTERN_LENGTH) });
const clearParams = z.strictObject({});

/** Service name of contexts run for the node itself (`node.subscribe` handlers): the local process. */
const LOCAL_CALLER = '$node';

function withTimeout<T>(pending: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
}

function badParams(path: string, err: z.ZodError): MeshError {
  const issue = err.issues[0];
  const field = issue.path.map(String).join('.') || '(params)';
  return new MeshError('INVALID_PARAMS', `${path}: ${field}: ${issue.message}`, { path, field });
}

/** What the caching part is given when the node is built. */
export interface CacheInit {
  /** A configuration file path, or the configuration inline (see `NodeOptions.config`). */
  readonly config?: string | ConfigInput;
  /** Where `CACHE_*` variables are read; `process.env` when absent. */
  readonly env?: Record<string, string | undefined>;
  /** Custom backends by name. */
  readonly backends?: Readonly<Record<string, CacheBackend>>;
  /** The node's network once it joined one (the DHT backend needs it). */
  readonly network: () => MeshNetwork | undefined;
}

/** Owns the cache of one node: the caching part of a node (see src/node/part.ts). */
export class CacheManager implements NodePart {
  readonly name = 'cache';
  /** The interceptor the node installs innermost on every user action. */
  readonly interceptor: Interceptor = { name: 'cache', wrap: (action, next) => this.wrap(action, next) };
  private config: LoadedConfig | undefined;
  private readonly guards = new Map<string, GuardedBackend>();
  private readonly services = new Map<string, ServiceCache>();
  private readonly byPath = new Map<string, ActionCache>();
  private readonly orphanStats = new ActionStats('(unknown)', '(unknown)');
  private prom: ReturnType<typeof createPrometheusRegistry> | undefined;

  private node!: PartComponents;

  constructor(private readonly init: CacheInit) {}

  /** The validated configuration (after `node.start()`). */
  get settings(): LoadedConfig['global'] | undefined {
    return this.config?.global;
  }

  /** @internal Loads the configuration and opens the backends the known services use. */
  async start(components: PartComponents): Promise<void> {
    this.node = components;
    const env = this.init.env ?? process.env;
    this.config = loadConfig(this.init.config, env);
    this.promState(); // created now, so the latency histogram counts from the first request
    await this.backendFor(this.config.global.backend, 'cache.backend');
  }

  /** @internal Closes every backend and forgets the per-action state. */
  async stop(): Promise<void> {
    for (const guard of this.guards.values()) {
      guard.dispose();
      try {
        await guard.backend.close?.();
      } catch (err) {
        this.node.logger.warn({ err, backend: guard.name }, 'cache backend close failed');
      }
    }
    this.guards.clear();
    this.services.clear();
    this.byPath.clear();
  }

  /** @internal Resolves a service's cached actions and adds its management actions and event rules. */
  async attachService(entry: ServiceEntry): Promise<void> {
    const config = this.config;
    if (config === undefined) throw new MeshError('NOT_STARTED', 'cache manager is not started');
    const svcLayers = serviceLayers(config, entry);
    const global = config.global;
    const svc: ServiceCache = {
      name: entry.name,
      scope: `${global.prefix}${this.node.networkId()}/${entry.name}/`,
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
    this.addManagementActions(svc);
    const rules = [
      ...svcLayers.flatMap((l) => l?.options.events ?? []),
      ...global.events.filter((r) => r.services === undefined || r.services.includes(entry.name)),
    ];
    for (const rule of rules) {
      this.node.subscribeInternal(entry.name, rule.event, (ctx, data) =>
        this.applyRule(svc, rule.keys, ctx, data),
      );
    }
  }

  private async actionCache(
    svc: ServiceCache,
    action: ActionEntry,
    r: ResolvedActionCache,
  ): Promise<ActionCache> {
    const guard = await this.backendFor(r.backend, r.backendField);
    const stats = new ActionStats(svc.name, action.name);
    const memory = guard.backend instanceof MemoryBackend ? guard.backend : undefined;
    const maxKeyLength = this.config!.global.maxKeyLength;
    const fastKeyOf =
      memory === undefined ? undefined : compileFastKey({ keys: r.keys, key: r.key }, maxKeyLength);
    return {
      service: svc,
      name: action.name,
      ttl: r.ttl,
      staleTtl: r.ttl > 0 ? r.staleTtl : 0,
      results: r.results,
      guard,
      memory,
      fastKeyOf,
      fastTable: fastKeyOf === undefined ? undefined : memory?.table(),
      keyOf: compileKeyBuilder(
        action.name,
        { keys: r.keys, key: r.key as ((p: unknown, c: RequestContext) => string) | undefined },
        this.config!.global.maxKeyLength,
      ),
      condition: r.condition as ActionCache['condition'],
      stats,
      inflight: new Map(),
      logger: this.node.logger,
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

  /** Creates (once) and opens the backend registered under `name`. */
  private async backendFor(name: string, field: string): Promise<GuardedBackend> {
    const existing = this.guards.get(name);
    if (existing !== undefined) return existing;
    const backend = await this.createBackend(name, field);
    const guard = new GuardedBackend(name, backend, this.config!.global.failure, this.node.logger);
    this.guards.set(name, guard);
    if (backend instanceof MemoryBackend) backend.onEvict = (key) => this.countEviction(key);
    await (backend as CacheBackend).open?.({
      networkId: this.node.networkId(),
      logger: this.node.logger,
      network: this.init.network(),
    });
    return guard;
  }

  private async createBackend(name: string, field: string): Promise<CacheBackend> {
    const custom = this.init.backends?.[name];
    if (custom !== undefined) {
      if (
        typeof custom?.get !== 'function' ||
        typeof custom.set !== 'function' ||
        typeof custom.delete !== 'function' ||
        typeof custom.clear !== 'function'
      ) {
        throw new MeshError('CONFIG_INVALID', `backend '${name}' does not implement get/set/delete/clear`, {
          field: `backends.${name}`,
        });
      }
      return custom;
    }
    const global = this.config!.global;
    switch (name) {
      case 'memory':
        return new MemoryBackend(global.memory);
      case 'redis': {
        const { RedisBackend } = await import('./backends/redis.js');
        return new RedisBackend(global.redis ?? {});
      }
      case 'dht': {
        if (this.init.network() === undefined) {
          this.node.logger.warn(
            "cache backend 'dht' needs the node to join a network (new Node({ network })); caching in local memory instead",
          );
          return new MemoryBackend(global.memory);
        }
        const { DhtBackend } = await import('./backends/dht.js');
        return new DhtBackend({ replication: global.replication, prefix: global.prefix, ...global.dht });
      }
    }
    const known = ['memory', 'redis', 'dht', ...Object.keys(this.init.backends ?? {})];
    const where = this.config?.file ? ` (configuration file ${this.config.file})` : '';
    throw new MeshError(
      'CONFIG_INVALID',
      `${field}: unknown cache backend '${name}'${where}; known: ${known.join(', ')}`,
      {
        field,
        file: this.config?.file,
        backend: name,
      },
    );
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

  // ---- invalidation --------------------------------------------------------

  private invalidated(svc: ServiceCache): void {
    svc.generation++;
    for (const ac of svc.actions.values()) ac.inflight.clear();
  }

  private async eachBackend<T>(
    svc: ServiceCache,
    op: string,
    call: (b: CacheBackend, guard: GuardedBackend) => T | Promise<T>,
  ): Promise<T[]> {
    const out: T[] = [];
    const limit = this.config!.global.failure.managementTimeoutMs;
    for (const guard of svc.guards) {
      try {
        // Not `guard.run`: a revoke over a million Redis keys takes seconds, far past the
        // per-operation bound of the hit path; management gets its own, longer bound.
        out.push(
          await withTimeout(
            Promise.resolve().then(() => call(guard.backend, guard)),
            limit,
            `${op} took longer than ${limit} ms`,
          ),
        );
      } catch (err) {
        if (MeshError.is(err)) throw err;
        guard.failed(op, err);
        throw new MeshError(
          'BACKEND_ERROR',
          `cache backend '${guard.name}' failed to ${op}: ${(err as Error).message}`,
          { backend: guard.name, op },
          err,
        );
      }
    }
    return out;
  }

  /** Removes every entry of a service; returns how many. */
  async clearService(service: string): Promise<number> {
    const svc = this.requireService(service);
    this.invalidated(svc);
    const counts = await this.eachBackend(svc, 'clear', (b) => b.clear(svc.scope));
    return counts.reduce<number>((n, c) => n + (typeof c === 'number' ? c : 0), 0);
  }

  /** Removes one entry of a service by action key (`get_user:123`); true if it was there. */
  async deleteKey(service: string, key: string): Promise<boolean> {
    const svc = this.requireService(service);
    this.invalidated(svc);
    const max = this.config!.global.maxKeyLength;
    // An over-long key was stored hashed under the name of the action that built it: its own head for
    // `keys` (`get_user:...`), anything for a key function (`custom:...`), so try each cached action.
    const stored = key.length > max ? [...svc.actions.keys()].map((action) => hashKey(action, key)) : [key];
    const results: unknown[] = [];
    for (const k of stored)
      results.push(...(await this.eachBackend(svc, 'delete', (b) => b.delete(svc.scope + k))));
    return results.some(Boolean);
  }

  /** Removes the entries of a service whose action key matches a glob; returns how many. */
  async revokePattern(service: string, pattern: string): Promise<number> {
    const svc = this.requireService(service);
    const glob = compileGlob(pattern);
    this.invalidated(svc);
    const counts = await this.eachBackend(svc, 'revoke', async (b, guard) => {
      if (b instanceof MemoryBackend) return b.revokeMatching(svc.scope, glob);
      if (typeof b.revoke === 'function') return b.revoke(svc.scope, glob.source);
      if (typeof b.keys !== 'function') {
        throw new MeshError(
          'BACKEND_ERROR',
          `cache backend '${guard.name}' cannot list keys, so it cannot revoke by pattern`,
          { backend: guard.name },
        );
      }
      const matched: string[] = [];
      // startsWith: a backend that lists more than asked must not let revoke reach other services or networks
      for await (const key of await b.keys(svc.scope))
        if (key.startsWith(svc.scope) && glob.test(key.slice(svc.scope.length))) matched.push(key);
      let n = 0;
      for (const key of matched) if (await b.delete(key)) n++;
      return n;
    });
    return counts.reduce((n, c) => n + c, 0);
  }

  private requireService(service: string): ServiceCache {
    const svc = this.services.get(service);
    if (svc === undefined)
      throw new MeshError('NOT_FOUND', `service '${service}' has no cached actions`, { service });
    return svc;
  }

  private async applyRule(
    svc: ServiceCache,
    keys: readonly string[],
    ctx: RequestContext,
    data: unknown,
  ): Promise<void> {
    for (const template of keys) {
      const filled = fillTemplate(template, data);
      if ('missing' in filled) {
        this.node.logger.warn(
          { event: ctx.event?.topic, template, field: filled.missing },
          'event rule skipped a key: the event data lacks the field',
        );
        continue;
      }
      try {
        if (hasWildcard(filled.key)) await this.revokePattern(svc.name, filled.key);
        else await this.deleteKey(svc.name, filled.key);
      } catch (err) {
        this.node.logger.error(
          { err, event: ctx.event?.topic, key: filled.key },
          'event rule could not invalidate',
        );
      }
    }
  }

  // ---- management actions ---------------------------------------------------

  private authorize(ctx: RequestContext, service: string, operation: ManagementRequest['operation']): void {
    const caller = ctx.callerService;
    const access = this.config!.global.access;
    if (access.authorize !== undefined) {
      if (access.authorize(ctx, { service, operation } satisfies ManagementRequest) === true) return;
    } else if (
      caller === undefined ||
      caller === LOCAL_CALLER ||
      caller === service ||
      access.allow.includes('*') ||
      access.allow.includes(caller)
    ) {
      return;
    }
    throw new MeshError(
      'ACCESS_DENIED',
      `${caller === undefined ? 'this caller' : `service '${caller}'`} may not ${operation} the cache of '${service}'`,
      {
        service,
        operation,
        caller: ctx.caller,
      },
    );
  }

  private addManagementActions(svc: ServiceCache): void {
    const name = svc.name;
    this.node.addInternalAction(name, 'cache/clear', async (ctx, params) => {
      const parsed = clearParams.safeParse(params);
      if (!parsed.success) throw badParams(`${name}/cache/clear`, parsed.error);
      this.authorize(ctx, name, 'clear');
      return { cleared: await this.clearService(name) };
    });
    this.node.addInternalAction(name, 'cache/delete', async (ctx, params) => {
      const parsed = deleteParams.safeParse(params);
      if (!parsed.success) throw badParams(`${name}/cache/delete`, parsed.error);
      this.authorize(ctx, name, 'delete');
      return { deleted: await this.deleteKey(name, parsed.data.key) };
    });
    this.node.addInternalAction(name, 'cache/revoke', async (ctx, params) => {
      const parsed = revokeParams.safeParse(params);
      if (!parsed.success) throw badParams(`${name}/cache/revoke`, parsed.error);
      this.authorize(ctx, name, 'revoke');
      return { revoked: await this.revokePattern(name, parsed.data.pattern) };
    });
  }

  // ---- metrics --------------------------------------------------------------

  private allStats(): ActionStats[] {
    const list: ActionStats[] = [];
    for (const svc of this.services.values()) for (const ac of svc.actions.values()) list.push(ac.stats);
    return list;
  }

  private backendViews() {
    return [...this.guards.values()].map((g) => ({
      name: g.name,
      errors: g.errors,
      available: g.usable,
      entries: g.backend instanceof MemoryBackend ? g.backend.size : undefined,
      evictions: g.backend instanceof MemoryBackend ? g.backend.evictions : undefined,
    }));
  }

  /** Counters for the node, per service and per action. */
  stats(): CacheStats {
    const services: CacheStats['services'] = {};
    const byPath: CacheStats['actions'] = {};
    for (const svc of this.services.values()) {
      const actions: Record<string, CacheStatsView> = {};
      for (const ac of svc.actions.values()) {
        actions[ac.name] = summarize([ac.stats]);
        byPath[`${svc.name}/${ac.name}`] = actions[ac.name];
      }
      services[svc.name] = { ...summarize([...svc.actions.values()].map((a) => a.stats)), actions };
    }
    const backends: CacheStats['backends'] = {};
    for (const b of this.backendViews())
      backends[b.name] = {
        errors: b.errors,
        available: b.available,
        entries: b.entries,
        evictions: b.evictions,
      };
    const total = summarize([...this.allStats(), this.orphanStats]);
    return { ...total, services, actions: byPath, backends };
  }

  /** The prom-client registry holding meshcache's metrics (created on first use). */
  get registry() {
    return this.promState().registry;
  }

  private promState(): ReturnType<typeof createPrometheusRegistry> {
    this.prom ??= createPrometheusRegistry(
      () => this.allStats(),
      () => this.backendViews(),
    );
    return this.prom;
  }

  /** Prometheus text exposition of the cache metrics. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
