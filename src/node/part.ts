/**
 * The contract between the host and the parts it is given (caching, the P2P
 * network, or a user's own). A part receives `PartComponents`, the few host
 * capabilities it may use, rather than the whole node, so the host knows
 * nothing of what its parts do.
 */
import type { Logger } from 'pino';
import type { ActionInvoker, Interceptor } from './interceptors.js';
import type { ActionEntry, ServiceEntry } from './registry.js';
import type { HostedService, IncomingCall, OutgoingCall } from './remote.js';
import type { EventHandler } from './types.js';

/** What the host lends a part when it starts. */
export interface PartComponents {
  readonly logger: Logger;
  /** The network id of the node (may change once when a part sets it, see `setNetworkId`). */
  networkId(): string;
  /** Replaces the node's network id (the network part, once it joined). */
  setNetworkId(id: string): void;
  /** Adds an action to a registered service; it runs through the user's interceptors, not the parts'. */
  addInternalAction(service: string, name: string, handler: ActionInvoker): void;
  /** Subscribes on behalf of a service; removed when the node stops. */
  subscribeInternal(owner: string, topic: string, handler: EventHandler): void;
  /** Delivers an event that arrived from outside this process to the local subscribers. */
  deliverRemote(topic: string, data: unknown, fromPeer: string): void;
  /** Runs a call another node made to an action this node hosts (never routed on further). */
  serve(call: IncomingCall): Promise<unknown>;
  /** The services and actions this node hosts, with what the parts declare of each. */
  hosted(): HostedService[];
  /** Calls `listener` when a service or action is added; returns the remover. */
  onHostedChange(listener: () => void): () => void;
  /**
   * Routes `<service>/<name>` here though another node hosts it: its calls run through the
   * interceptors (the parts' too: the cache part answers from a copy it holds) and then go
   * to a member that hosts it. A service this node hosts keeps its own route.
   */
  addRemoteAction(service: string, name: string): void;
  /** Removes a route added by `addRemoteAction` (nothing else). */
  removeRemoteAction(path: string): void;
}

/** A part of a node: a feature the host is composed with. Every member is optional but `name`. */
export interface NodePart {
  readonly name: string;
  /**
   * Installed around every user action, inside the user's interceptors; the
   * parts' interceptors nest in the order the parts were given (the last is innermost).
   */
  readonly interceptor?: Interceptor;
  /** Called by `node.start()`, in order, before services are wired. */
  start?(components: PartComponents): void | Promise<void>;
  /** Called for each service when the node starts, and for services added to a running node. */
  attachService?(entry: ServiceEntry): void | Promise<void>;
  /** Called by `node.stop()` in reverse order, after the services' `stopped` hooks. */
  stop?(): void | Promise<void>;
  /** Carries a published event beyond this process (the network part). */
  publishRemote?(topic: string, data: unknown): Promise<void>;
  /** Sends a call for a path this node does not host to a node that does; undefined when none does. */
  route?(call: OutgoingCall): Promise<unknown> | undefined;
  /** What this part declares of an action, as data other nodes may read (undefined: nothing). */
  describeAction?(action: ActionEntry): Record<string, unknown> | undefined;
  /** What this part tells of itself in `$node/info` (the cache part: its backends). */
  describe?(): Record<string, unknown>;
}
