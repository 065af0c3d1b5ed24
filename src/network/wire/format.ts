/**
 * The one-hop protocol's wire format, in one place: protocol names, bounds,
 * framing (a 4-byte big-endian length, then JSON) and the reply envelope every
 * message kind answers with. The kinds themselves (one file each) say what
 * their requests carry; ./index.ts registers them in a table.
 */
import type { Stream } from '@libp2p/interface';
import * as v from 'valibot';
import { parseSerializedError, type SerializedError } from '../../errors.js';

/**
 * Largest message a node sends or reads unless `network.maxMessageBytes` says otherwise.
 * A frame past a reader's bound is skipped (and answered `TOO_LARGE`), not read.
 */
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

/**
 * The reply to every kind: `ok`, and what the kind puts in it: `r` (a record,
 * a lease answer, an encoded result), `sent` (the answering node's wall clock),
 * `e` (why it failed, in the error catalog's serialized form).
 */
export interface DirectReply {
  ok: boolean;
  r?: string;
  sent?: number;
  e?: SerializedError;
}

const finite = v.pipe(v.number(), v.finite());
export const directReplySchema = v.object({
  ok: v.boolean(),
  r: v.optional(v.string()),
  sent: v.optional(finite),
  e: v.optional(
    v.object({
      name: v.string(),
      message: v.string(),
      code: v.optional(v.string()),
      details: v.optional(v.record(v.string(), v.unknown())),
    }),
  ),
});

/** Checks a reply with the rules of `directReplySchema`, by hand (undefined: malformed). */
export function parseDirectReply(raw: unknown): DirectReply | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  if (typeof m.ok !== 'boolean') return undefined;
  if (m.r !== undefined && typeof m.r !== 'string') return undefined;
  if (m.sent !== undefined && (typeof m.sent !== 'number' || !Number.isFinite(m.sent))) return undefined;
  const out: DirectReply = { ok: m.ok };
  if (m.r !== undefined) out.r = m.r as string;
  if (m.sent !== undefined) out.sent = m.sent as number;
  if (m.e !== undefined) {
    const e = parseSerializedError(m.e);
    if (e === undefined) return undefined;
    out.e = e;
  }
  return out;
}

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

/** Raised for a message past the bound, by the sender before anything is written. */
export class FrameTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`message of ${size} bytes is larger than the limit of ${limit} bytes`);
  }
}

/**
 * Frames `value` with the request id `id` first, when given (a reader that
 * skips an oversized frame can still read whose it was). `value` itself
 * carries no `i`: the id is spliced into its JSON, not spread into a copy.
 */
export function frame(value: object, limit = MAX_MESSAGE, id?: number): Uint8Array {
  let json = JSON.stringify(value);
  if (id !== undefined) json = json.length === 2 ? `{"i":${id}}` : `{"i":${id},${json.slice(1)}`;
  // One allocation, not zero-filled (only the written bytes are sent): the JSON goes after
  // the 4-byte header (at most 3 bytes per UTF-16 unit).
  const out = Buffer.allocUnsafe(4 + json.length * 3);
  const { written } = encoder.encodeInto(json, out.subarray(4));
  if (written > limit) throw new FrameTooLargeError(written, limit);
  out[0] = written >>> 24;
  out[1] = (written >>> 16) & 0xff;
  out[2] = (written >>> 8) & 0xff;
  out[3] = written & 0xff;
  return out.subarray(0, 4 + written);
}

/** A request framed once for every peer it is posted to (id 0: no reply wanted). */
export interface PostedFrame {
  readonly bytes: Uint8Array;
  /** What it counts as when sent (counters.ts). */
  readonly kind: string;
}

/** What a reader found in a frame it could not use: too large (skipped) or not JSON. */
export class UnreadFrame {
  constructor(
    readonly unread: 'too-large' | 'malformed',
    readonly size: number,
    /** The request id, when it could be read from the frame's start. */
    readonly i?: number,
  ) {}
}

export function isUnread(m: unknown): m is UnreadFrame {
  return m instanceof UnreadFrame;
}

const ID_AT_START = /^\{"i":(\d{1,15})[,}]/;

/**
 * Splits received bytes into framed JSON messages. A frame past `limit` is
 * skipped as its bytes arrive (never buffered) and a frame that is not JSON
 * is dropped: each is reported as an `UnreadFrame`, and the stream goes on.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private size = 0;
  /** Bytes still to drop of a frame past the bound. */
  private skipping = 0;

  constructor(private readonly limit = MAX_MESSAGE) {}

  /** Adds received bytes; returns the messages (parsed JSON, or UnreadFrame) they finish. */
  push(bytes: Uint8Array): unknown[] {
    const out: unknown[] = [];
    if (this.skipping > 0) {
      const drop = Math.min(this.skipping, bytes.byteLength);
      this.skipping -= drop;
      bytes = bytes.subarray(drop);
      if (bytes.byteLength === 0) return out;
    }
    this.chunks.push(bytes);
    this.size += bytes.byteLength;
    while (this.size >= 4) {
      let buf = this.first(4);
      const want = this.peekLength(buf);
      if (want > this.limit) {
        const head = Math.min(want, 32);
        if (this.size < 4 + head) break;
        buf = this.first(4 + head);
        const id = ID_AT_START.exec(decoder.decode(buf.subarray(4, 4 + head)))?.[1];
        out.push(new UnreadFrame('too-large', want, id === undefined ? undefined : Number(id)));
        if (this.size >= 4 + want) {
          this.drop(4 + want);
          continue;
        }
        this.skipping = 4 + want - this.size;
        this.chunks = [];
        this.size = 0;
        break;
      }
      if (this.size < 4 + want) break;
      buf = this.first(4 + want);
      try {
        out.push(JSON.parse(decoder.decode(buf.subarray(4, 4 + want))));
      } catch {
        out.push(new UnreadFrame('malformed', want));
      }
      this.drop(4 + want);
    }
    return out;
  }

  get buffered(): number {
    return this.size;
  }

  /** The first chunk, joined with the next ones when it holds fewer than `n` bytes. */
  private first(n: number): Uint8Array {
    const buf = this.chunks[0] as Uint8Array;
    if (buf.byteLength >= n || this.chunks.length === 1) return buf;
    const joined = Buffer.concat(this.chunks, this.size);
    this.chunks = [joined];
    return joined;
  }

  /** Drops the first `n` bytes (all buffered: the caller checked). */
  private drop(n: number): void {
    this.size -= n;
    while (n > 0) {
      const buf = this.chunks[0] as Uint8Array;
      if (buf.byteLength > n) {
        this.chunks[0] = buf.subarray(n);
        return;
      }
      n -= buf.byteLength;
      this.chunks.shift();
    }
  }

  private peekLength(buf: Uint8Array): number {
    if (buf.byteLength < 4) return Number.POSITIVE_INFINITY;
    // The low three bytes OR-ed (below 2^24, never negative), the high one multiplied.
    const low = ((buf[1] as number) << 16) | ((buf[2] as number) << 8) | (buf[3] as number);
    return (buf[0] as number) * 0x1000000 + low;
  }
}

export const bytesOf = (chunk: Uint8Array | { subarray(): Uint8Array }): Uint8Array =>
  chunk instanceof Uint8Array ? chunk : chunk.subarray();

/** Reads one framed JSON message from the stream (the single-shot protocol). */
export async function readFrame(stream: Stream, limit = MAX_MESSAGE): Promise<unknown> {
  const reader = new FrameReader(limit);
  for await (const chunk of stream) {
    const done = reader.push(bytesOf(chunk));
    if (done.length > 0) {
      if (isUnread(done[0])) throw new Error(`direct message ${done[0].unread}`);
      return done[0];
    }
  }
  throw new Error('direct message truncated');
}
