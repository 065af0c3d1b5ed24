/**
 * What a message kind is: its name `t`, the rules of its request (a valibot
 * schema, and the same rules checked by hand for the hot path: a test keeps
 * both in agreement), and how this node answers it, given only the parts of
 * the network the kind needs.
 */

import type * as v from 'valibot';
import type { DirectReply } from './format.js';
import type { HeartbeatRequest } from './heartbeat.js';

/** The parts of a node that message kinds answer with (each kind picks the ones it needs). */
export interface WireComponents {
  /** The DHT records this node holds (get, put). */
  readonly records: {
    answerDirect(req: { t: 'get'; k: string } | { t: 'put'; k: string; r: string }): DirectReply;
  };
  /** The leases this node keeps as a key's first holder. */
  readonly leases: {
    answer(req: {
      t: 'lease';
      op: 'acquire' | 'renew' | 'release' | 'wait';
      k: string;
      tok: string;
      ms: number;
    }): Promise<DirectReply>;
  };
  /** Control messages and invalidation notices. */
  readonly control: { deliver(body: Record<string, unknown>, from: string): void };
  /** Remote requests to the services this node hosts. */
  readonly calls: { answer(req: CallWire, from: string): Promise<DirectReply> };
  /** What this node hosts (its catalog), and the catalogs other members push. */
  readonly catalogs: {
    answer(): DirectReply;
    receive(text: string, from: string): void;
  };
  /** The members' heartbeats (who this node heard, and when). */
  readonly heartbeats: { receive(req: HeartbeatRequest, from: string): void };
  /** The members this node is connected to: where they listen. */
  readonly members: { addressesOf(peers: readonly string[]): Promise<DirectReply> };
}

/** A remote request on the wire (call.ts has its rules). */
export interface CallWire {
  t: 'call';
  /** `service/action`. */
  p: string;
  /** The params, encoded by the value codec. */
  a: string;
  /** Milliseconds left of the caller's deadline (0: none). */
  d: number;
  /** `meta`, encoded by the value codec (absent: none). */
  m?: string;
  /** The per-call cache mode. */
  c?: 'bypass' | 'refresh';
  /** The caller's request id and path, for logs and traces. */
  rid?: string;
  from?: string;
  /** The caller's trace context (W3C `traceparent`, `tracestate`, ...), when it traces. */
  tc?: Record<string, string>;
}

/** One message kind of the one-hop protocol. */
export interface MessageKind<R extends { t: string }> {
  readonly t: R['t'];
  readonly schema: v.GenericSchema<unknown, R>;
  /** The schema's rules by hand: the request, or undefined when refused. */
  parse(raw: Record<string, unknown>): R | undefined;
  /** Answers a request from `from` (a posted one's answer is dropped). */
  answer(components: WireComponents, req: R, from: string): DirectReply | Promise<DirectReply>;
}

/** A key of the record protocol: a non-empty string of at most 8 KiB. */
export const isKey = (k: unknown): k is string => typeof k === 'string' && k.length >= 1 && k.length <= 8192;
