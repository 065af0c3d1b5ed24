/**
 * Requests to services other members host, both ways. Calling: pick a member
 * that hosts the path (fewest calls in flight, skipping members that left or
 * just failed to answer), send the call on the one-hop stream, and turn the
 * reply back into a result or the callee's error. Serving: decode a call from
 * a member and run it on this node's host.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { decodeValue, encodeStrict, encodeValue } from '../../codec/index.js';
import { deserializeError, MeshError, parseSerializedError, serializeError } from '../../errors.js';
import { deadlineSignal } from '../../node/deadline-signal.js';
import type { IncomingCall, OutgoingCall } from '../../node/remote.js';
import { NotSentError } from '../direct.js';
import type { CallWire, DirectReply, DirectRequest } from '../wire/index.js';
import type { ServiceCatalogs } from './catalogs.js';

/** What remote calls need of the network. */
export interface CallTransport {
  request(peer: string, req: DirectRequest, signal: AbortSignal): Promise<DirectReply>;
  /** Is `peer` a connected member now? */
  isMember(peer: string): boolean;
}

/** How long a member that could not be reached is passed over when another host exists, ms. */
const SUSPECT_MS = 2_000;
/** The longest a call waits for catalogs still being asked for before answering NOT_FOUND, ms. */
const CATALOG_WAIT_MS = 2_000;

/** The signal of a call without a deadline: it never aborts; every call in flight listens to it. */
const NEVER = new AbortController().signal;
setMaxListeners(0, NEVER);

export class RemoteCalls {
  private server: ((call: IncomingCall) => Promise<unknown>) | undefined;
  private readonly inFlight = new Map<string, number>();
  private readonly suspects = new Map<string, number>();
  /** Calls answered for other members, and sent to them (operators' counters). */
  served = 0;
  sent = 0;

  constructor(
    private readonly transport: CallTransport,
    private readonly catalogs: ServiceCatalogs,
    private readonly logger: () => Logger,
  ) {}

  /** Sets what runs the calls other members send (the host); undefined: every call is NOT_FOUND. */
  serve(server: ((call: IncomingCall) => Promise<unknown>) | undefined): void {
    this.server = server;
  }

  /**
   * Sends `call` to a member that hosts its path; undefined when none does (and
   * no member's catalog is still being asked for).
   */
  route(call: OutgoingCall): Promise<unknown> | undefined {
    const slash = call.path.indexOf('/');
    const service = call.path.slice(0, slash);
    const action = call.path.slice(slash + 1);
    const hosts = this.hostsOf(service, action);
    if (hosts.length > 0) return this.send(call, hosts);
    if (this.catalogs.pending > 0) return this.afterCatalogs(call, service, action);
    return this.serviceOnly(call, service);
  }

  /** Sends `call` to `peer` (a member) whatever its catalog says: the node's own actions (`$node/...`). */
  callOn(peer: string, call: OutgoingCall): Promise<unknown> {
    return this.send(call, [peer]);
  }

  /** Answers a call from member `from`. */
  async answer(req: CallWire, from: string): Promise<DirectReply> {
    const server = this.server;
    try {
      if (server === undefined)
        throw new MeshError('NOT_FOUND', `action '${req.p}' not found: this member serves no requests`, {
          path: req.p,
        });
      const params = decodeValue(req.a);
      const meta = req.m === undefined ? {} : decodeValue(req.m);
      if (meta === null || typeof meta !== 'object')
        throw new MeshError('INVALID_PARAMS', 'meta must be an object');
      this.served++;
      const result = await server({
        path: req.p,
        params: params as Record<string, unknown>,
        deadline: req.d > 0 ? Date.now() + req.d : 0,
        meta: meta as Record<string, unknown>,
        cache: req.c,
        requestId: req.rid ?? `${from.slice(-8)}-remote`,
        caller: req.from,
        peer: from,
      });
      return { ok: true, r: encodeValue(result) };
    } catch (err) {
      return { ok: false, r: encodeValue(serializeError(err)) };
    }
  }

  private hostsOf(service: string, action: string): string[] {
    return this.catalogs.hostsOf(service, action).filter((p) => this.transport.isMember(p));
  }

  private async afterCatalogs(call: OutgoingCall, service: string, action: string): Promise<unknown> {
    const left = call.deadline > 0 ? call.deadline - Date.now() : CATALOG_WAIT_MS;
    await this.catalogs.settled(Math.max(0, Math.min(left, CATALOG_WAIT_MS)));
    const hosts = this.hostsOf(service, action);
    if (hosts.length > 0) return this.send(call, hosts);
    const found = this.serviceOnly(call, service);
    if (found !== undefined) return found;
    throw new MeshError('NOT_FOUND', `service '${service}' not found on this node or any member`, {
      path: call.path,
      service,
    });
  }

  /** NOT_FOUND naming the action when members host the service but not the action; else undefined. */
  private serviceOnly(call: OutgoingCall, service: string): Promise<unknown> | undefined {
    const members = this.catalogs.hostsOf(service).filter((p) => this.transport.isMember(p));
    if (members.length === 0) return undefined;
    return Promise.reject(
      new MeshError('NOT_FOUND', `action '${call.path}' not found on the members hosting '${service}'`, {
        path: call.path,
        service,
        members,
      }),
    );
  }

  /** The host to try first: fewest calls in flight, members that just failed last. */
  private pick(hosts: readonly string[], tried: ReadonlySet<string>): string | undefined {
    const now = Date.now();
    let best: string | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const peer of hosts) {
      if (tried.has(peer)) continue;
      const suspect = (this.suspects.get(peer) ?? 0) > now ? 1_000_000 : 0;
      const score = (this.inFlight.get(peer) ?? 0) + suspect + Math.random() * 0.5;
      if (score < bestScore) {
        bestScore = score;
        best = peer;
      }
    }
    return best;
  }

  /** Sends `call` to the first host that takes it (the client side of a remote call). */
  protected async send(call: OutgoingCall, hosts: readonly string[]): Promise<unknown> {
    let params: string;
    let meta: string | undefined;
    try {
      params = encodeStrict(call.params);
      meta = Object.keys(call.meta).length === 0 ? undefined : encodeStrict(call.meta);
    } catch (err) {
      throw new MeshError(
        'INVALID_PARAMS',
        `params of '${call.path}' cannot be sent to another node: ${(err as Error).message}`,
        { path: call.path },
      );
    }
    // A timer cleared when the call settles: AbortSignal.timeout cost ~5 µs a call and kept its
    // timer until the deadline.
    const deadline = call.deadline > 0 ? deadlineSignal(Math.max(0, call.deadline - Date.now())) : undefined;
    try {
      return await this.sendToHosts(call, hosts, params, meta, deadline?.signal ?? NEVER);
    } finally {
      deadline?.done();
    }
  }

  /** Tries `hosts` in the order `pick` gives until one takes the call (a call written is never resent). */
  private async sendToHosts(
    call: OutgoingCall,
    hosts: readonly string[],
    params: string,
    meta: string | undefined,
    signal: AbortSignal,
  ): Promise<unknown> {
    const tried = new Set<string>();
    for (;;) {
      const peer = this.pick(hosts, tried);
      if (peer === undefined) {
        throw new MeshError('UNAVAILABLE', `no member hosting '${call.path}' could be reached`, {
          path: call.path,
          tried: [...tried],
        });
      }
      tried.add(peer);
      const wire: CallWire = { t: 'call', p: call.path, a: params, d: 0 };
      if (meta !== undefined) wire.m = meta;
      if (call.cache !== undefined) wire.c = call.cache;
      wire.rid = call.requestId;
      if (call.caller !== undefined) wire.from = call.caller;
      this.stamp(wire, peer);
      this.inFlight.set(peer, (this.inFlight.get(peer) ?? 0) + 1);
      let reply: DirectReply;
      try {
        wire.d = call.deadline > 0 ? Math.max(1, call.deadline - Date.now()) : 0;
        if (signal.aborted) throw this.timeout(call);
        this.sent++;
        reply = await this.transport.request(peer, wire, signal);
      } catch (err) {
        if (signal.aborted) throw this.timeout(call);
        if (err instanceof NotSentError) {
          this.suspects.set(peer, Date.now() + SUSPECT_MS);
          this.logger().debug({ peer, path: call.path, err: err.message }, 'remote call not sent: next host');
          continue;
        }
        if (err instanceof MeshError) throw err;
        this.suspects.set(peer, Date.now() + SUSPECT_MS);
        throw new MeshError(
          'UNAVAILABLE',
          `member ${peer} serving '${call.path}' was lost before it answered: ${(err as Error).message}`,
          { path: call.path, peer },
        );
      } finally {
        const n = (this.inFlight.get(peer) ?? 1) - 1;
        if (n === 0) this.inFlight.delete(peer);
        else this.inFlight.set(peer, n);
      }
      return this.unwrap(reply, peer);
    }
  }

  /** Adds to a call about to go to `peer` what a subclass carries (the trace context). */
  protected stamp(_wire: CallWire, _peer: string): void {}

  private unwrap(reply: DirectReply, peer: string): unknown {
    if (reply.ok) return reply.r === undefined ? undefined : decodeValue(reply.r);
    if (reply.r !== undefined) {
      const wire = parseSerializedError(decodeValue(reply.r));
      if (wire !== undefined) throw deserializeError(wire);
    }
    if (reply.e !== undefined) throw deserializeError(reply.e);
    throw new MeshError('UNAVAILABLE', `member ${peer} refused the call`, { peer });
  }

  private timeout(call: OutgoingCall): MeshError {
    return new MeshError(
      'TIMEOUT',
      `request '${call.path}' timed out (deadline passed on the way to another node)`,
      {
        path: call.path,
      },
    );
  }
}
