/**
 * Remote calls with OpenTelemetry spans: a client span around each call this
 * node sends (its context carried in the call's `tc` field by the globally
 * registered propagator, W3C trace context with the usual SDK setups) and a
 * server span around each call it answers, child of the caller's span. Loaded
 * and built instead of plain `RemoteCalls` only when an SDK is registered at
 * start (mesh-network.ts), so a node without one runs no tracing code.
 */
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { OutgoingCall } from '../../node/remote.js';
import type { CallWire, DirectReply } from '../wire/index.js';
import type { ServiceCatalogs } from './catalogs.js';
import { type CallTransport, RemoteCalls } from './remote-calls.js';

/** The attributes of the RPC conventions, for the span of a call to or from `path`. */
function rpcAttributes(path: string) {
  const slash = path.indexOf('/');
  return {
    'rpc.system': 'meshcache',
    'rpc.service': path.slice(0, slash),
    'rpc.method': path.slice(slash + 1),
  };
}

function failed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}

/** Remote calls with a client span per call sent and a server span per call answered. */
export class TracedRemoteCalls extends RemoteCalls {
  constructor(
    private readonly tracer: Tracer,
    transport: CallTransport,
    catalogs: ServiceCatalogs,
    logger: () => Logger,
  ) {
    super(transport, catalogs, logger);
  }

  protected override send(call: OutgoingCall, hosts: readonly string[]): Promise<unknown> {
    const parent = context.active();
    const span = this.tracer.startSpan(
      call.path,
      { kind: SpanKind.CLIENT, attributes: rpcAttributes(call.path) },
      parent,
    );
    return context
      .with(trace.setSpan(parent, span), () => super.send(call, hosts))
      .then(
        (result) => {
          span.end();
          return result;
        },
        (err: unknown) => {
          failed(span, err);
          throw err;
        },
      );
  }

  protected override stamp(wire: CallWire, peer: string): void {
    const active = context.active();
    trace.getSpan(active)?.setAttribute('meshcache.peer', peer);
    const carrier: Record<string, string> = {};
    propagation.inject(active, carrier);
    if (Object.keys(carrier).length > 0) wire.tc = carrier;
  }

  override answer(req: CallWire, from: string): Promise<DirectReply> {
    const parent: Context = req.tc === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, req.tc);
    const span = this.tracer.startSpan(
      req.p,
      { kind: SpanKind.SERVER, attributes: { ...rpcAttributes(req.p), 'meshcache.peer': from } },
      parent,
    );
    return context
      .with(trace.setSpan(parent, span), () => super.answer(req, from))
      .then(
        (reply) => {
          // The callee's error travels in the reply; the span only says that the call failed.
          if (!reply.ok) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
          return reply;
        },
        (err: unknown) => {
          failed(span, err);
          throw err;
        },
      );
  }
}
