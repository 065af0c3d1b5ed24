import '../polyfills.js';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { MeshError } from '../errors.js';
import { type CallTarget, type EventInfo, RequestContext } from './context.js';
import { callWithDeadline, invokeWithin } from './deadline.js';
import { EventBus } from './events.js';
import { inject, notRunning, routeError } from './host-errors.js';
import {
  type ActionInvoker,
  compose,
  type Interceptor,
  type InterceptorFunction,
  toInterceptor,
} from './interceptors.js';
import { defaultLogger } from './logger.js';
import { checkLogger } from './logger-check.js';
import { checkNetworkId } from './network-id.js';
import type { NodePart, PartComponents } from './part.js';
import { type ActionEntry, type ServiceEntry, toServiceEntry } from './registry.js';
import type { HostedService, IncomingCall } from './remote.js';
import {
  badCall,
  hostedServices,
  notFoundAnywhere,
  outgoingCall,
  remoteRoute,
  routable,
  routeCall,
} from './remote-routing.js';
import { isPlainObject } from './request-checks.js';
import { assertTopic } from './topics.js';
import type { EventHandler, Params, RequestOptions, ServiceDefinition } from './types.js';

/** Options of the host (the `Node` users import adds the cache and network options). */
export interface HostOptions {
  /**
   * The network this node belongs to.
   * @default 'default'
   */
  networkId?: string;
  /**
   * A pino logger.
   * @default pino at `LOG_LEVEL`, silent under test runners
   */
  logger?: Logger;
  /**
   * Default timeout of every request in ms (0: none).
   * @default 0
   */
  requestTimeout?: number;
}

type State = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

const NODE_TARGET: CallTarget = { service: '$node', name: 'request', path: '$node/request' };

/**
 * The host: registers services, routes `service/action` calls through the
 * interceptor chain, delivers events, and runs the parts it was given
 * (caching and the network are parts; see part.ts). It knows nothing of what
 * its parts do.
 */
export class Host {
  /** Short random id of this node process, the prefix of its request ids. */
  readonly instanceId = randomBytes(4).toString('hex');
  readonly logger: Logger;

  private state: State = 'created';
  private seq = 0;
  private readonly services = new Map<string, ServiceEntry>();
  private readonly routes = new Map<string, ActionEntry>();
  private readonly provided = new Map<string, unknown>();
  private readonly interceptors: Interceptor[] = [];
  private readonly bus = new EventBus<EventHandler>();
  private readonly busOff = new Map<string, Array<() => void>>();
  private readonly requestTimeout: number;
  private networkId_: string;
  private readonly parts: readonly NodePart[];
  /** The parts' interceptors, innermost last; composed inside the user's. */
  private readonly partInterceptors: Interceptor[];
  private readonly components: PartComponents;
  /** The parts that reach services on other nodes. */
  private readonly routers: NodePart[];
  private readonly hostedListeners = new Set<() => void>();
  /** The node's own actions (`$node/info`, and those parts add): routed, never announced. */
  private readonly nodeService: ServiceEntry = {
    name: '$node',
    cache: undefined,
    actions: new Map(),
    events: [],
    injections: [],
    instance: undefined,
  };
  private readonly startedAt = Date.now();

  constructor(options: HostOptions = {}, parts: readonly NodePart[] = []) {
    if (options === null || typeof options !== 'object') {
      throw new MeshError('CONFIG_INVALID', 'new Node(options): options must be an object');
    }
    this.networkId_ = options.networkId ?? 'default';
    checkNetworkId(this.networkId_);
    this.parts = parts;
    this.partInterceptors = parts.flatMap((p) => (p.interceptor === undefined ? [] : [p.interceptor]));
    this.routers = parts.filter((p) => p.route !== undefined);
    const timeout = options.requestTimeout ?? 0;
    if (typeof timeout !== 'number' || !(timeout >= 0)) {
      throw new MeshError('CONFIG_INVALID', 'requestTimeout must be a number of ms >= 0', {
        field: 'requestTimeout',
      });
    }
    this.requestTimeout = timeout;
    this.logger = options.logger === undefined ? defaultLogger() : checkLogger(options.logger);
    this.components = {
      logger: this.logger,
      networkId: () => this.networkId_,
      setNetworkId: (id) => {
        checkNetworkId(id, 'network.id');
        this.networkId_ = id;
      },
      addInternalAction: (service, name, handler) => this.addInternalAction(service, name, handler),
      subscribeInternal: (owner, topic, handler) => this.subscribeInternal(owner, topic, handler),
      deliverRemote: (topic, data, fromPeer) => void this.deliver({ topic, fromPeer }, data),
      serve: (call) => this.serveRemote(call),
      hosted: () => this.hosted(),
      onHostedChange: (listener) => {
        this.hostedListeners.add(listener);
        return () => this.hostedListeners.delete(listener);
      },
      addRemoteAction: (service, name) => this.addRemoteAction(service, name),
      removeRemoteAction: (path) => {
        if (this.routes.get(path)?.remote === true) this.routes.delete(path);
      },
    };
    this.addInternalAction('$node', 'info', () => this.info());
  }

  /** The id of the network this node serves (`ctx.networkId`). */
  get networkId(): string {
    return this.networkId_;
  }

  /** True between a successful `start()` and `stop()`. */
  get running(): boolean {
    return this.state === 'running';
  }

  /** Makes `value` available to `@inject(token)` fields. */
  provide(token: string, value: unknown): this {
    if (typeof token !== 'string' || token.length === 0)
      throw new MeshError('INVALID_PARAMS', 'provide(token, value): token must be a non-empty string');
    this.provided.set(token, value);
    for (const svc of this.services.values()) inject(svc, this.provided, false);
    return this;
  }

  /** Adds an interceptor around every action call; the first added is the outermost. */
  use(interceptor: Interceptor | InterceptorFunction): this {
    const valid =
      typeof interceptor === 'function' ||
      (typeof interceptor?.wrap === 'function' && typeof interceptor.name === 'string');
    if (!valid)
      throw new MeshError('INVALID_PARAMS', 'use(): expected a function or { name, wrap(action, next) }');
    this.interceptors.push(toInterceptor(interceptor, this.interceptors.length));
    if (this.state === 'running') for (const action of this.routes.values()) this.composeAction(action);
    return this;
  }

  /**
   * Registers a service: a `@service` class instance or `{ name, actions, events }`. An object with a
   * `name` and `actions` or `events` is checked as a `ServiceDefinition`: a misspelt option fails to compile.
   */
  addService<S extends object>(
    service: S extends { name: string } & ({ actions: unknown } | { events: unknown })
      ? ServiceDefinition
      : S,
  ): this {
    const entry = toServiceEntry(service);
    if (this.services.has(entry.name)) {
      throw new MeshError('CONFLICT', `service '${entry.name}' is already registered on this node`, {
        service: entry.name,
      });
    }
    this.services.set(entry.name, entry);
    for (const action of entry.actions.values()) this.routes.set(action.path, action);
    inject(entry, this.provided, false);
    if (this.state === 'running') {
      void this.wireService(entry).catch((err) =>
        this.logger.error({ err, service: entry.name }, 'service failed to start'),
      );
    }
    return this;
  }

  /** The names of the registered services. */
  serviceNames(): string[] {
    return [...this.services.keys()];
  }

  /** The paths of the services' actions (management actions included once started; not the node's own `$node/...`). */
  actionPaths(): string[] {
    return [...this.routes.entries()]
      .filter(([path, entry]) => !path.startsWith('$node/') && entry.remote !== true)
      .map(([path]) => path);
  }

  /** Starts the parts (the network, then the cache: configuration and backends), then calls `started` hooks. */
  async start(): Promise<void> {
    if (this.state !== 'created' && this.state !== 'stopped') {
      throw new MeshError('CONFLICT', `node cannot start while ${this.state}`);
    }
    this.state = 'starting';
    try {
      for (const part of this.parts) await part.start?.(this.components);
      for (const entry of this.services.values()) inject(entry, this.provided, true);
      for (const entry of this.services.values()) await this.wireService(entry, false);
      this.state = 'running';
      this.hostedChanged();
      for (const entry of this.services.values()) await entry.started?.(this);
      this.logger.info({ services: this.serviceNames(), networkId: this.networkId }, 'node started');
    } catch (err) {
      this.state = 'running';
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  /** Calls `stopped` hooks, stops the parts in reverse order; later requests fail with `STOPPED`. */
  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    for (const entry of [...this.services.values()].reverse()) {
      try {
        await entry.stopped?.(this);
      } catch (err) {
        this.logger.error({ err, service: entry.name }, 'stopped hook failed');
      }
    }
    for (const offs of this.busOff.values()) for (const off of offs) off();
    this.busOff.clear();
    for (const part of [...this.parts].reverse()) {
      try {
        await part.stop?.();
      } catch (err) {
        this.logger.error({ err, part: part.name }, `${part.name} failed to stop`);
      }
    }
    this.state = 'stopped';
    this.logger.info('node stopped');
  }

  /** Calls an action by path: `node.request('user/get_user', { id: 1 })`. */
  request<R = unknown>(path: string, params?: Params, options?: RequestOptions): Promise<R> {
    return this.callFrom(undefined, path, params, options) as Promise<R>;
  }

  /** Publishes an event to local subscribers (and to the whole network when joined). */
  publish(topic: string, data?: unknown): Promise<void> {
    return this.publishFrom(undefined, topic, data);
  }

  /** Subscribes a function `(ctx, data)` to a topic pattern; returns the unsubscribe function. */
  subscribe(topic: string, handler: EventHandler): () => void {
    if (typeof handler !== 'function')
      throw new MeshError('INVALID_PARAMS', 'subscribe(topic, handler): handler must be a function');
    return this.bus.subscribe(topic, handler);
  }

  /** @internal The request path shared by `node.request` and `ctx.request`. */
  callFrom(
    parent: RequestContext | undefined,
    path: string,
    params: Params | undefined,
    options: RequestOptions | undefined,
  ): Promise<unknown> {
    if (this.state !== 'running') return Promise.reject(notRunning(this.state));
    const action = this.routes.get(path);
    if (action === undefined) return this.callRemote(parent, path, params, options);
    // The local call is the hot path: the common case (plain params, no options) takes no call.
    if (params === undefined) params = {};
    else if (options !== undefined || !isPlainObject(params)) {
      const bad = badCall(path, params, options);
      if (bad !== undefined) return Promise.reject(bad);
    }
    const ctx = new RequestContext(this, action, parent, options, ++this.seq);
    const timeout = options?.timeout ?? (action.options.timeout as number | undefined) ?? this.requestTimeout;
    if (timeout > 0 || ctx.deadline > 0) return callWithDeadline(action.invoker, ctx, params, timeout);
    try {
      const result = action.invoker(ctx, params);
      return result instanceof Promise ? result : Promise.resolve(result);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** A call for a path this node does not host: handed to the routing parts, or NOT_FOUND. */
  private callRemote(
    parent: RequestContext | undefined,
    path: string,
    params: Params | undefined,
    options: RequestOptions | undefined,
  ): Promise<unknown> {
    if (this.routers.length === 0 || !routable(path)) return Promise.reject(routeError(path, this.services));
    const bad = badCall(path, params, options);
    if (bad !== undefined) return Promise.reject(bad);
    const call = outgoingCall(parent, path, params, options, this.requestTimeout, () => this.newRequestId());
    return routeCall(this.routers, call, () => notFoundAnywhere(path, this.services, this.networkId_));
  }

  private newRequestId(): string {
    return `${this.instanceId}-${(++this.seq).toString(36)}`;
  }

  /** A route to an action another node hosts, through this node's interceptors (see PartComponents). */
  private addRemoteAction(service: string, name: string): void {
    const existing = this.routes.get(`${service}/${name}`);
    if (existing !== undefined && existing.remote !== true) return;
    const entry = remoteRoute(service, name, (call) =>
      routeCall(this.routers, call, () => notFoundAnywhere(call.path, new Map(), this.networkId_)),
    );
    this.routes.set(entry.path, entry);
    this.composeAction(entry);
  }

  /** Runs a call another node made (never routed on: an unknown path is NOT_FOUND here). */
  private serveRemote(call: IncomingCall): Promise<unknown> {
    if (this.state !== 'running') return Promise.reject(notRunning(this.state));
    const action = this.routes.get(call.path);
    if (action === undefined) return Promise.reject(routeError(call.path, this.services));
    const bad = badCall(call.path, call.params, undefined);
    if (bad !== undefined) return Promise.reject(bad);
    const options: RequestOptions = {
      meta: call.meta,
      ...(call.cache === undefined ? {} : { cache: call.cache }),
    };
    const origin = {
      peer: call.peer,
      requestId: call.requestId,
      ...(call.caller ? { caller: call.caller } : {}),
    };
    const ctx = new RequestContext(this, action, undefined, options, ++this.seq, undefined, origin);
    ctx.withDeadline(call.deadline);
    const timeout = (action.options.timeout as number | undefined) ?? this.requestTimeout;
    return invokeWithin(action.invoker, ctx, call.params, timeout);
  }

  /** The services and actions other nodes may call, with what the parts declare of each. */
  private hosted(): HostedService[] {
    return hostedServices(this.services.values(), this.parts);
  }

  private hostedChanged(): void {
    for (const listener of this.hostedListeners) listener();
  }

  /** `$node/info`: what this node is, hosts and runs (every part adds its own). */
  private info(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      networkId: this.networkId_,
      instanceId: this.instanceId,
      services: this.serviceNames(),
      hosted: this.hosted(),
      uptimeMs: Date.now() - this.startedAt,
      runtime: `node ${process.versions.node}`,
    };
    for (const part of this.parts) Object.assign(out, part.describe?.());
    return out;
  }

  /** @internal Publishing shared by `node.publish` and `ctx.publish`. */
  async publishFrom(parent: RequestContext | undefined, topic: string, data: unknown): Promise<void> {
    assertTopic(topic);
    if (this.state === 'created' || this.state === 'stopped') throw notRunning(this.state);
    const info: EventInfo = { topic, publisher: parent?.path };
    const local = this.deliver(info, data);
    const remote: Promise<void>[] = [];
    for (const part of this.parts) {
      if (part.publishRemote === undefined) continue;
      remote.push(
        part
          .publishRemote(topic, data)
          .catch((err) => this.logger.warn({ err, topic }, 'event broadcast failed')),
      );
    }
    await local;
    for (const r of remote) await r;
  }

  /** Registers an action the node generates itself (cache management); it goes through user interceptors. */
  private addInternalAction(service: string, name: string, handler: ActionInvoker): void {
    const svc = service === '$node' ? this.nodeService : this.services.get(service);
    if (svc === undefined) throw new MeshError('NOT_FOUND', `service '${service}' not found`);
    const path = `${service}/${name}`;
    const entry: ActionEntry = {
      service,
      name,
      path,
      options: {},
      internal: true,
      handler: handler as never,
      invoker: handler,
    };
    svc.actions.set(name, entry);
    this.routes.set(path, entry);
    this.composeAction(entry);
    if (svc !== this.nodeService && this.state === 'running') this.hostedChanged();
  }

  /** Subscribes on behalf of a service (event rules); removed when the node stops. */
  private subscribeInternal(owner: string, topic: string, handler: EventHandler): void {
    const off = this.bus.subscribe(topic, handler, owner);
    const list = this.busOff.get(owner) ?? [];
    list.push(off);
    this.busOff.set(owner, list);
  }

  private deliver(info: EventInfo, data: unknown): Promise<void> {
    return this.bus.deliver(
      info.topic,
      (sub) => {
        const target: CallTarget =
          sub.owner === undefined
            ? NODE_TARGET
            : { service: sub.owner, name: sub.pattern, path: `${sub.owner}/${sub.pattern}` };
        const ctx = new RequestContext(this, target, undefined, undefined, ++this.seq, info);
        return sub.handler(ctx, data);
      },
      this.logger,
    );
  }

  private async wireService(entry: ServiceEntry, callStarted = true): Promise<void> {
    const offs: Array<() => void> = [];
    for (const { topic, handler } of entry.events) offs.push(this.bus.subscribe(topic, handler, entry.name));
    this.busOff.set(entry.name, offs);
    for (const part of this.parts) await part.attachService?.(entry);
    for (const action of entry.actions.values()) this.composeAction(action);
    if (callStarted) {
      this.hostedChanged();
      await entry.started?.(this);
    }
  }

  private composeAction(action: ActionEntry): void {
    const chain = action.internal ? this.interceptors : [...this.interceptors, ...this.partInterceptors];
    action.invoker = compose(action, chain, action.handler as ActionInvoker);
  }
}
