/**
 * The wire of the one-hop record protocol (direct.ts): names, bounds,
 * message rules (schemas, and the hand checks the hot path uses), framing.
 */
import type { Stream } from '@libp2p/interface';
import * as v from 'valibot';

export const MAX_MESSAGE = 4 * 1024 * 1024;

/** Most requests in flight to one peer on its stream; more wait for a slot. */
export const MAX_IN_FLIGHT = 64;

/** The multiplexed protocol (one long-lived stream per peer). */
export function recordProtocol(networkId: string): string {
  return `/meshcache/${networkId}/rec/2.0.0`;
}

/** The single-shot protocol of the first version (one request per stream). */
export function singleShotProtocol(networkId: string): string {
  return `/meshcache/${networkId}/rec/1.0.0`;
}

const key = v.pipe(v.string(), v.minLength(1), v.maxLength(8192));
const LEASE_OPS = ['acquire', 'renew', 'release', 'wait'] as const;
/** Longest lease or wait a member accepts, ms (a bound on what a peer can make it keep). */
export const MAX_LEASE_MS = 10 * 60_000;
const MAX_TOKEN = 128;
const finite = v.pipe(v.number(), v.finite());
/** The rules of a request (the hot path checks by hand, `parseDirectRequest`; a test keeps both in agreement). */
export const directRequestSchema = v.variant('t', [
  v.object({ t: v.literal('get'), k: key }),
  /** `r`: the record JSON (encodeRecord with from/sent). */
  v.object({ t: v.literal('put'), k: key, r: v.pipe(v.string(), v.maxLength(MAX_MESSAGE)) }),
  /** A control message (invalidation) sent straight to a member, besides gossip. */
  v.object({ t: v.literal('ctl'), m: v.record(v.string(), v.unknown()) }),
  /** A lease kept by the key's first holder (leases.ts); `ms`: its length, or the longest wait. */
  v.object({
    t: v.literal('lease'),
    op: v.picklist(LEASE_OPS),
    k: key,
    tok: v.pipe(v.string(), v.maxLength(MAX_TOKEN)),
    ms: v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(MAX_LEASE_MS)),
  }),
]);
export type DirectRequest = v.InferOutput<typeof directRequestSchema>;

export const directReplySchema = v.object({
  ok: v.boolean(),
  /** get: the record JSON held there (absent: none). */
  r: v.optional(v.pipe(v.string(), v.maxLength(MAX_MESSAGE))),
  /** The holder's wall clock when it answered. */
  sent: v.optional(finite),
});
export type DirectReply = v.InferOutput<typeof directReplySchema>;

/** Answers a request from `from`. */
export type DirectHandler = (req: DirectRequest, from: string) => DirectReply | Promise<DirectReply>;

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

const isKey = (k: unknown): k is string => typeof k === 'string' && k.length >= 1 && k.length <= 8192;

/**
 * Checks a request with the rules of `directRequestSchema` (undefined: refused),
 * by hand: it runs for every message received (test/dht-onehop.test.ts checks
 * both agree).
 */
export function parseDirectRequest(raw: unknown): DirectRequest | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  switch (m.t) {
    case 'get':
      return isKey(m.k) ? { t: 'get', k: m.k } : undefined;
    case 'put':
      return isKey(m.k) && typeof m.r === 'string' && m.r.length <= MAX_MESSAGE
        ? { t: 'put', k: m.k, r: m.r }
        : undefined;
    case 'ctl':
      return m.m !== null && typeof m.m === 'object' && !Array.isArray(m.m)
        ? { t: 'ctl', m: m.m as Record<string, unknown> }
        : undefined;
    case 'lease':
      return isKey(m.k) &&
        (LEASE_OPS as readonly unknown[]).includes(m.op) &&
        typeof m.tok === 'string' &&
        m.tok.length <= MAX_TOKEN &&
        typeof m.ms === 'number' &&
        Number.isFinite(m.ms) &&
        m.ms >= 0 &&
        m.ms <= MAX_LEASE_MS
        ? { t: 'lease', op: m.op as (typeof LEASE_OPS)[number], k: m.k, tok: m.tok, ms: m.ms }
        : undefined;
  }
  return undefined;
}

/** Checks a reply with the rules of `directReplySchema` (undefined: malformed). */
export function parseDirectReply(raw: unknown): DirectReply | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  if (typeof m.ok !== 'boolean') return undefined;
  if (m.r !== undefined && (typeof m.r !== 'string' || m.r.length > MAX_MESSAGE)) return undefined;
  if (m.sent !== undefined && (typeof m.sent !== 'number' || !Number.isFinite(m.sent))) return undefined;
  const out: DirectReply = { ok: m.ok };
  if (m.r !== undefined) out.r = m.r as string;
  if (m.sent !== undefined) out.sent = m.sent as number;
  return out;
}

export function frame(value: unknown): Uint8Array {
  const json = JSON.stringify(value);
  // One allocation: the JSON is written after the 4-byte header (at most 3 bytes per UTF-16 unit).
  const out = new Uint8Array(4 + json.length * 3);
  const { written } = encoder.encodeInto(json, out.subarray(4));
  if (written > MAX_MESSAGE) throw new Error('direct message too large');
  new DataView(out.buffer).setUint32(0, written);
  return out.subarray(0, 4 + written);
}

/** A request framed once for every peer it is posted to (id 0: no reply wanted). */
export interface PostedFrame {
  readonly bytes: Uint8Array;
}

export function postedFrame(req: DirectRequest): PostedFrame {
  return { bytes: frame({ ...req, i: 0 }) };
}

/** Splits received bytes into framed JSON messages. */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private size = 0;

  /** Adds received bytes; returns the complete messages (parsed JSON) they finish. */
  push(bytes: Uint8Array): unknown[] {
    this.chunks.push(bytes);
    this.size += bytes.byteLength;
    const out: unknown[] = [];
    while (this.size >= 4) {
      let buf = this.chunks[0] as Uint8Array;
      if (buf.byteLength < 4 || (this.chunks.length > 1 && buf.byteLength < 4 + this.peekLength(buf))) {
        buf = Buffer.concat(this.chunks, this.size);
        this.chunks = [buf];
      }
      const want = this.peekLength(buf);
      if (want > MAX_MESSAGE) throw new Error('direct message too large');
      if (buf.byteLength < 4 + want) break;
      out.push(JSON.parse(decoder.decode(buf.subarray(4, 4 + want))));
      const rest = buf.subarray(4 + want);
      this.size -= 4 + want;
      if (rest.byteLength > 0) this.chunks[0] = rest;
      else this.chunks.shift();
    }
    return out;
  }

  get buffered(): number {
    return this.size;
  }

  private peekLength(buf: Uint8Array): number {
    if (buf.byteLength < 4) return Number.POSITIVE_INFINITY;
    return new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0);
  }
}

export const bytesOf = (chunk: Uint8Array | { subarray(): Uint8Array }): Uint8Array =>
  chunk instanceof Uint8Array ? chunk : chunk.subarray();

/** Reads one framed JSON message from the stream (the single-shot protocol). */
export async function readFrame(stream: Stream): Promise<unknown> {
  const reader = new FrameReader();
  for await (const chunk of stream) {
    const done = reader.push(bytesOf(chunk));
    if (done.length > 0) return done[0];
  }
  throw new Error('direct message truncated');
}
