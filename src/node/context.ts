import type { Logger } from 'pino';
import type { Host } from './host.js';
import type { RequestOptions } from './types.js';

/** The action (or event subscription) a context runs for. */
export interface CallTarget {
  readonly service: string;
  readonly name: string;
  readonly path: string;
}

/** Where a call that came from another node came from. */
export interface RemoteOrigin {
  /** Undefined in the nested calls of a remote one (they are made by this node). */
  readonly peer: string | undefined;
  readonly requestId?: string;
  readonly caller?: string;
}

/** Where an event came from, for contexts handed to event handlers. */
export interface EventInfo {
  readonly topic: string;
  /** Path of the action that published it, if any. */
  readonly publisher?: string;
  /** Peer id of the node that published it, when it came over the network. */
  readonly fromPeer?: string;
}

/**
 * The context of one action call (or one event delivery). Nested calls made
 * with `ctx.request()` share the `requestId` of the outermost call and name the
 * calling action in `caller`, so a trace can be followed through services.
 */
export class RequestContext {
  /** Path of the calling action (`user/update_user`), or undefined for a call from the node itself. */
  readonly caller: string | undefined;
  /** Nesting depth: 0 for `node.request()`, +1 per `ctx.request()`. */
  readonly depth: number;
  /** Per-call cache behaviour, from `RequestOptions.cache`. */
  readonly cacheMode: RequestOptions['cache'];
  /** Absolute deadline (ms since epoch) inherited by nested calls, or 0 for none. */
  readonly deadline: number;
  /** Metadata given with the request, inherited by nested calls. */
  readonly meta: Readonly<Record<string, unknown>>;
  /** Set for event deliveries. */
  readonly event: EventInfo | undefined;
  private readonly seq: number;
  /**
   * Where a call from another node came from (its nested calls keep only the trace id):
   * one field, so that a local call's context stays as small as it was.
   */
  private readonly origin: RemoteOrigin | undefined;
  private log: Logger | undefined;

  constructor(
    /** The node that runs this call. */
    readonly node: Host,
    private readonly target: CallTarget,
    parent: RequestContext | undefined,
    options: RequestOptions | undefined,
    seq: number,
    event?: EventInfo,
    remote?: RemoteOrigin,
  ) {
    this.seq = parent === undefined ? seq : parent.seq;
    if (parent === undefined) {
      this.origin = remote;
      this.caller = remote?.caller;
    } else {
      const trace = parent.origin?.requestId;
      this.origin = trace === undefined ? undefined : { peer: undefined, requestId: trace };
      this.caller = parent.path;
    }
    this.depth = parent === undefined ? 0 : parent.depth + 1;
    this.cacheMode = options?.cache;
    this.deadline = parent === undefined ? 0 : parent.deadline;
    this.meta = options?.meta ?? (parent === undefined ? EMPTY : parent.meta);
    this.event = event;
  }

  /** The network this call runs in (`ctx.networkId` of the spec). */
  get networkId(): string {
    return this.node.networkId;
  }

  /** Service name of the action (or of the subscriber, for events). */
  get service(): string {
    return this.target.service;
  }

  /** Action name (for events: the subscribed topic pattern). */
  get action(): string {
    return this.target.name;
  }

  /** `<service>/<action>`. */
  get path(): string {
    return this.target.path;
  }

  /** Id of the outermost request of this trace. */
  get requestId(): string {
    return this.origin?.requestId ?? `${this.node.instanceId}-${this.seq.toString(36)}`;
  }

  /**
   * On a call from another node: that node's peer id, as the transport
   * authenticated it. Undefined for a call made in this process (and its nested calls).
   */
  get peer(): string | undefined {
    return this.origin?.peer;
  }

  /** Milliseconds left before this call's deadline (on any node it crossed), or undefined for none. */
  get remainingMs(): number | undefined {
    return this.deadline > 0 ? Math.max(0, this.deadline - Date.now()) : undefined;
  }

  /** Service name of the caller, or undefined for a call from the node itself. */
  get callerService(): string | undefined {
    const caller = this.caller;
    if (caller === undefined) return undefined;
    return caller.slice(0, caller.indexOf('/'));
  }

  /** A child of the node's logger bound to this request (created on first use). */
  get logger(): Logger {
    this.log ??= this.node.logger.child({ requestId: this.requestId, path: this.path });
    return this.log;
  }

  /** Calls another action as part of this request (trace and deadline are kept). */
  request<R = unknown>(path: string, params?: Record<string, unknown>, options?: RequestOptions): Promise<R> {
    return this.node.callFrom(this, path, params, options) as Promise<R>;
  }

  /** Publishes an event; `ctx.event.publisher` of the handlers names this action. */
  publish(topic: string, data?: unknown): Promise<void> {
    return this.node.publishFrom(this, topic, data);
  }

  /** @internal Used by the node for deadline propagation. */
  withDeadline(deadline: number): this {
    (this as { deadline: number }).deadline = deadline;
    return this;
  }
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});
