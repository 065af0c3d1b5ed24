/**
 * The one-hop protocol's message kinds, registered in one table: a new kind
 * is a new file here and a line in `KINDS`. The framing and the reply
 * envelope are in format.ts.
 */
import * as v from 'valibot';
import { requestKind } from '../counters.js';
import { callKind } from './call.js';
import { type CatalogRequest, catalogKind } from './catalog.js';
import { type CtlRequest, ctlKind } from './ctl.js';
import { type DirectReply, frame, MAX_MESSAGE, type PostedFrame } from './format.js';
import { type GetRequest, getKind } from './get.js';
import { type HeartbeatRequest, heartbeatKind } from './heartbeat.js';
import type { CallWire, MessageKind, WireComponents } from './kind.js';
import { type LeaseRequest, leaseKind } from './lease.js';
import { type PutRequest, putKind } from './put.js';
import { MAX_WHERE_PEERS, type WhereRequest, whereKind } from './where.js';

export * from './format.js';
export type { CallWire, MessageKind, WireComponents } from './kind.js';
export { MAX_LEASE_MS } from './lease.js';
export type {
  CatalogRequest,
  CtlRequest,
  GetRequest,
  HeartbeatRequest,
  LeaseRequest,
  PutRequest,
  WhereRequest,
};
export { MAX_WHERE_PEERS };

/** Every request a member may send. */
export type DirectRequest =
  | GetRequest
  | PutRequest
  | CtlRequest
  | LeaseRequest
  | CallWire
  | CatalogRequest
  | HeartbeatRequest
  | WhereRequest;

/** The table of kinds, by `t`. */
const KINDS = new Map<string, MessageKind<DirectRequest>>(
  [getKind, putKind, ctlKind, leaseKind, callKind, catalogKind, heartbeatKind, whereKind].map((k) => [
    k.t,
    k as unknown as MessageKind<DirectRequest>,
  ]),
);

/** The rules of every request, as one schema (tests check the hand checks against it). */
export const directRequestSchema = v.variant('t', [
  getKind.schema,
  putKind.schema,
  ctlKind.schema,
  leaseKind.schema,
  callKind.schema,
  catalogKind.schema,
  heartbeatKind.schema,
  whereKind.schema,
] as never) as unknown as v.GenericSchema<unknown, DirectRequest>;

/** Checks a request against its kind's rules (undefined: an unknown kind, or refused). */
export function parseDirectRequest(raw: unknown): DirectRequest | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  const kind = typeof m.t === 'string' ? KINDS.get(m.t) : undefined;
  return kind?.parse(m);
}

/** Answers a request from `from`. */
export type DirectHandler = (req: DirectRequest, from: string) => DirectReply | Promise<DirectReply>;

/** The handler that answers every kind of the table with the node's components. */
export function dispatcher(components: WireComponents): DirectHandler {
  return (req, from) => {
    const kind = KINDS.get(req.t);
    return kind === undefined ? { ok: false } : kind.answer(components, req, from);
  };
}

export function postedFrame(req: DirectRequest): PostedFrame {
  return { bytes: frame(req, MAX_MESSAGE, 0), kind: requestKind(req.t, true) };
}
