/**
 * Messages a node sent and received, per kind: plain counts bumped where
 * frames leave and arrive (one property increment each), read by
 * `MeshNetwork.stats()` for benchmarks and operators. Kinds:
 *
 * - `rec:<t>` a request of the one-hop protocol (`get`, `put`, `ctl`, `call`, `cat`, ...),
 *   `rec:<t>:posted` one sent with no reply wanted, `rec:reply` a reply;
 * - `gossip:events`, `gossip:control` a gossip message published or received
 *   (gossipsub's own upkeep is not counted here: see `stream:`);
 * - `ctl:<c>:<op>` a control message delivered once (whichever way it came) or sent;
 * - `member:join`, `member:leave`, `member:introduced` (a member named in a heartbeat
 *   digest that this node has no connection to, dialed), `member:unreached` (that dial
 *   failed), `discovery:lookup`, `bootstrap:dial`;
 * - `stream:<protocol>` a libp2p stream opened by (sent) or to (received) this
 *   node: identify, ping, kad-dht and sync open one per exchange.
 */
import type { MeshLibp2p } from './libp2p.js';

export interface MessageCounts {
  readonly sent: Record<string, number>;
  readonly received: Record<string, number>;
}

export function newCounts(): MessageCounts {
  return { sent: {}, received: {} };
}

export function bump(counts: Record<string, number>, kind: string, by = 1): void {
  counts[kind] = (counts[kind] ?? 0) + by;
}

const requestKinds = new Map<string, string>();
const postedKinds = new Map<string, string>();

/** `rec:<t>` (or `rec:<t>:posted`), made once per message kind rather than once per message. */
export function requestKind(t: string, posted = false): string {
  const kinds = posted ? postedKinds : requestKinds;
  let kind = kinds.get(t);
  if (kind === undefined) {
    kind = posted ? `rec:${t}:posted` : `rec:${t}`;
    kinds.set(t, kind);
  }
  return kind;
}

/** A copy of `counts` (callers may keep it while counting goes on). */
export function snapshot(counts: MessageCounts): MessageCounts {
  return { sent: { ...counts.sent }, received: { ...counts.received } };
}

/** The kind of a control message (`ctl:dht:del`, `ctl:inv`, ...). */
export function controlKind(body: Record<string, unknown>): string {
  const c = typeof body.c === 'string' ? body.c : '?';
  return typeof body.op === 'string' ? `ctl:${c}:${body.op}` : `ctl:${c}`;
}

/**
 * Counts the streams of every protocol `node` speaks, both ways, with a
 * registrar middleware (run once per stream open, never per message). libp2p
 * 3.3 appends the handler to the array `getMiddleware` returns, so a
 * registered array would grow with every inbound stream: the registrar hands
 * out a fresh array each time instead, the counter first.
 */
export function countStreams(node: MeshLibp2p, counts: MessageCounts): void {
  const registrar = (node as unknown as { components?: { registrar?: Middlewares } }).components?.registrar;
  const own = registrar?.getMiddleware;
  if (registrar === undefined || typeof own !== 'function') return;
  const counters = new Map<string, Middleware>();
  for (const protocol of node.getProtocols()) {
    const kind = `stream:${protocol}`;
    counters.set(protocol, (stream, connection, next) => {
      bump((stream as { direction?: string }).direction === 'inbound' ? counts.received : counts.sent, kind);
      next(stream, connection);
    });
  }
  registrar.getMiddleware = (protocol) => {
    const counter = counters.get(protocol);
    const rest = own.call(registrar, protocol);
    return counter === undefined ? [...rest] : [counter, ...rest];
  };
}

type Middleware = (stream: unknown, connection: unknown, next: (s: unknown, c: unknown) => void) => void;
interface Middlewares {
  getMiddleware(protocol: string): Middleware[];
}
