/**
 * Cached actions that other members host, answered on this node from its near
 * tier when it can build their keys itself: the declaration they announced
 * says the key comes from params (no key, condition, TTL or tags function),
 * the entries live in a shared backend this node also has open with a near
 * tier in front (Redis, the DHT), under the same scope. Such an action gets a
 * route here (the host sends its misses to a member that hosts it) compiled
 * like a local cached action: a near hit answers without a network hop; a
 * miss reads the shared backend, then calls the host; the near copy is kept
 * coherent by the same channels as this node's own (tracking, notices).
 * Anything else is cached on the hosting node only.
 */
import type { Logger } from 'pino';
import type { MeshNetwork } from '../../network/index.js';
import type { PartComponents } from '../../node/part.js';
import type { CacheDeclaration } from './declaration.js';
import type { ResolvedActionCache } from './resolve.js';

/** What remote routes need of the cache part. */
export interface RemoteActionsContext {
  readonly network: MeshNetwork;
  readonly host: Pick<PartComponents, 'addRemoteAction' | 'removeRemoteAction'>;
  readonly logger: Logger;
  /** True when this node hosts `service` itself (its own route wins). */
  hostsLocally(service: string): boolean;
  /** `<prefix><network>/<service>/` on this node. */
  scopeOf(service: string): string;
  /** True when `backend` is open here, remote, with a near tier in front. */
  shares(backend: string): boolean;
  /** Compiles the action's cache from `resolved` (the declaration) and makes it the route's. */
  install(service: string, action: string, resolved: ResolvedActionCache): Promise<void>;
  /** Forgets the action's compiled cache. */
  uninstall(service: string, action: string): void;
}

/** The declaration announced for a path, if it is one a caller can answer from its near tier. */
function usable(raw: unknown): CacheDeclaration | undefined {
  const d = (raw as { cache?: unknown } | undefined)?.cache as Partial<CacheDeclaration> | undefined;
  if (d === undefined || d === null || typeof d !== 'object') return undefined;
  const finite = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  if (!finite(d.ttl) || !finite(d.staleTtl) || typeof d.scope !== 'string' || typeof d.backend !== 'string')
    return undefined;
  if (d.functions !== false || d.near !== true || !Array.isArray(d.tags) || d.tags.length > 0)
    return undefined;
  if (d.keys !== null && !(Array.isArray(d.keys) && d.keys.every((k) => typeof k === 'string')))
    return undefined;
  return d as CacheDeclaration;
}

export class RemoteActions {
  /** Installed paths, with the declaration they were compiled from. */
  private readonly installed = new Map<string, string>();
  /**
   * Routes to the `cache/*` actions of services with installed paths: this node drops its
   * own copies of the service once such a call resolved (the cache part's interceptor).
   */
  private readonly management = new Set<string>();
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly context: RemoteActionsContext) {}

  /** Installs routes for what members announce now, removes those nobody hosts any more (serialized). */
  refresh(): Promise<void> {
    this.running = this.running
      .then(() => this.reconcile())
      .catch((err: Error) =>
        this.context.logger.warn({ err: err.message }, 'remote cached actions not routed here'),
      );
    return this.running;
  }

  /** Follows the members' catalogs (and departures) until the returned function is called. */
  watch(): () => void {
    const { network } = this.context;
    const refresh = () => void this.refresh();
    const offCatalogs = network.catalogs.onChange(refresh);
    network.on('peer:leave', refresh);
    return () => {
      offCatalogs();
      network.off('peer:leave', refresh);
      this.clear();
    };
  }

  /** Removes every installed route. */
  clear(): void {
    for (const path of this.installed.keys()) this.remove(path);
    for (const path of this.management) this.context.host.removeRemoteAction(path);
    this.management.clear();
  }

  private async reconcile(): Promise<void> {
    const wanted = this.wanted();
    for (const path of [...this.installed.keys()])
      if (wanted.get(path)?.text !== this.installed.get(path)) this.remove(path);
    for (const [path, { service, action, declaration, text }] of wanted) {
      if (this.installed.has(path)) continue;
      const resolved: ResolvedActionCache = {
        ttl: declaration.ttl,
        staleTtl: declaration.staleTtl,
        keys: declaration.keys ?? undefined,
        key: undefined,
        condition: undefined,
        backend: declaration.backend,
        results: 'frozen',
        near: true,
        backendField: `the declaration of '${path}' announced by its hosts`,
        policies: { ttlOf: undefined, grace: 0, softTimeoutMs: 0, tags: undefined, coalesce: 'node' },
      };
      await this.context.install(service, action, resolved);
      this.installed.set(path, text);
      this.context.host.addRemoteAction(service, action);
    }
    this.routeManagement();
  }

  /** Routes the `cache/*` actions announced for every service with installed paths (and only those). */
  private routeManagement(): void {
    const services = new Set([...this.installed.keys()].map((p) => p.slice(0, p.indexOf('/'))));
    const wanted = new Set<string>();
    const { network } = this.context;
    for (const peer of network.peers())
      for (const svc of network.catalogs.of(peer)?.services ?? [])
        if (services.has(svc.name))
          for (const a of svc.actions) if (a.name.startsWith('cache/')) wanted.add(`${svc.name}/${a.name}`);
    for (const path of this.management)
      if (!wanted.has(path)) {
        this.context.host.removeRemoteAction(path);
        this.management.delete(path);
      }
    for (const path of wanted) {
      if (this.management.has(path)) continue;
      const slash = path.indexOf('/');
      this.context.host.addRemoteAction(path.slice(0, slash), path.slice(slash + 1));
      this.management.add(path);
    }
  }

  private remove(path: string): void {
    const slash = path.indexOf('/');
    this.context.host.removeRemoteAction(path);
    this.context.uninstall(path.slice(0, slash), path.slice(slash + 1));
    this.installed.delete(path);
  }

  /** Paths every host of which announced the same usable declaration. */
  private wanted(): Map<
    string,
    { service: string; action: string; declaration: CacheDeclaration; text: string }
  > {
    const { network } = this.context;
    const seen = new Map<
      string,
      { service: string; action: string; declaration: CacheDeclaration; text: string } | null
    >();
    for (const peer of network.peers()) {
      for (const svc of network.catalogs.of(peer)?.services ?? []) {
        if (this.context.hostsLocally(svc.name)) continue;
        for (const action of svc.actions) {
          const path = `${svc.name}/${action.name}`;
          const declaration = usable(action.declared);
          const ok =
            declaration !== undefined &&
            declaration.scope === this.context.scopeOf(svc.name) &&
            this.context.shares(declaration.backend);
          const text = ok ? JSON.stringify(declaration) : '';
          const before = seen.get(path);
          if (!ok || (before !== undefined && (before === null || before.text !== text)))
            seen.set(path, null);
          else if (before === undefined)
            seen.set(path, { service: svc.name, action: action.name, declaration, text });
        }
      }
    }
    const out = new Map<
      string,
      { service: string; action: string; declaration: CacheDeclaration; text: string }
    >();
    for (const [path, entry] of seen) if (entry !== null) out.set(path, entry);
    return out;
  }
}
