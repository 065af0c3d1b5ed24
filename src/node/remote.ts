/**
 * The host's side of requests that cross nodes: what a part that routes them
 * (the network part) is given and gives back. The host knows no transport:
 * it hands a part the calls it cannot run itself, and runs the calls a part
 * brings from other nodes.
 */
import type { Params } from './types.js';

/** A call this node does not host, handed to the parts that can route it. */
export interface OutgoingCall {
  readonly path: string;
  readonly params: Params;
  /** Absolute deadline (ms since epoch, this node's clock), 0 for none. */
  readonly deadline: number;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly cache: 'bypass' | 'refresh' | undefined;
  /** Id of the outermost request of this trace. */
  readonly requestId: string;
  /** Path of the calling action, if any. */
  readonly caller: string | undefined;
}

/** A call another node made to an action this node hosts. */
export interface IncomingCall extends OutgoingCall {
  /** The calling node's peer id, as the transport authenticated it. */
  readonly peer: string;
}

/** One action of a service as other nodes see it. */
export interface HostedAction {
  readonly name: string;
  /** What the parts declare of it, as data (the cache part: the action's cache declaration). */
  readonly declared?: Readonly<Record<string, unknown>>;
}

/** One service this node hosts, as other nodes see it. */
export interface HostedService {
  readonly name: string;
  readonly actions: readonly HostedAction[];
}

/** The routing contract a part implements to reach services on other nodes. */
export interface RemoteRouter {
  /** Sends `call` to a node that hosts its path; undefined when no other node does. */
  route(call: OutgoingCall): Promise<unknown> | undefined;
}
