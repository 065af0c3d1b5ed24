/**
 * The one-hop record protocol: a node that knows the full membership computes
 * the holders of a key itself and asks or tells them directly, instead of an
 * iterative kad-dht lookup.
 *
 * - `/meshcache/<id>/rec/2.0.0` (used): one long-lived stream per peer, opened
 *   on first use and re-opened after a failure. Every message is a 4-byte
 *   big-endian length then JSON; a request carries an id `i` and its reply the
 *   same id, so requests are multiplexed (answered in any order) with a bound
 *   on those in flight per peer (MAX_IN_FLIGHT; more wait for a slot). A new
 *   stream per request costs a yamux stream open, a protocol negotiation and a
 *   close: most of a loopback round trip (BENCHMARKS.md, "DHT one-hop").
 * - `/meshcache/<id>/rec/1.0.0` (still answered; `requestOnce`): one request
 *   and one reply per new stream, framed the same way without the id.
 *
 * Messages are bounded (MAX_MESSAGE) and checked field by field (the same
 * rules as the schemas below (valibot), without a validator on the hot path; records inside
 * are decoded and validated by their reader). The protocol runs on the
 * network's connections, so the PSK and the per-network name isolate it as
 * they do kad-dht. Records travel in the kad-dht record format and are stored
 * through the same LwwDatastore (last-write-wins, write filters, clock
 * re-basing from `from`/`sent`).
 */
import type { Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Logger } from 'pino';
import * as v from 'valibot';
import type { MeshLibp2p } from './libp2p.js';

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
const finite = v.pipe(v.number(), v.finite());
/** The rules of a request (the hot path checks by hand, `parseDirectRequest`; a test keeps both in agreement). */
export const directRequestSchema = v.variant('t', [
  v.object({ t: v.literal('get'), k: key }),
  /** `r`: the record JSON (encodeRecord with from/sent). */
  v.object({ t: v.literal('put'), k: key, r: v.pipe(v.string(), v.maxLength(MAX_MESSAGE)) }),
  /** A control message (invalidation) sent straight to a member, besides gossip. */
  v.object({ t: v.literal('ctl'), m: v.record(v.string(), v.unknown()) }),
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

function frame(value: unknown): Uint8Array {
  const json = JSON.stringify(value);
  // One allocation: the JSON is written after the 4-byte header (at most 3 bytes per UTF-16 unit).
  const out = new Uint8Array(4 + json.length * 3);
  const { written } = encoder.encodeInto(json, out.subarray(4));
  if (written > MAX_MESSAGE) throw new Error('direct message too large');
  new DataView(out.buffer).setUint32(0, written);
  return out.subarray(0, 4 + written);
}

/** Splits received bytes into framed JSON messages. */
class FrameReader {
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

const bytesOf = (chunk: Uint8Array | { subarray(): Uint8Array }): Uint8Array =>
  chunk instanceof Uint8Array ? chunk : chunk.subarray();

/** Reads one framed JSON message from the stream (the single-shot protocol). */
async function readFrame(stream: Stream): Promise<unknown> {
  const reader = new FrameReader();
  for await (const chunk of stream) {
    const done = reader.push(bytesOf(chunk));
    if (done.length > 0) return done[0];
  }
  throw new Error('direct message truncated');
}

interface Pending {
  resolve(reply: DirectReply): void;
  reject(err: Error): void;
}

/** The long-lived stream to one peer: requests in flight by id, and those waiting for a slot. */
class Channel {
  stream: Stream | undefined;
  opening: Promise<Stream> | undefined;
  readonly pending = new Map<number, Pending>();
  readonly waiting: Array<() => void> = [];
  inFlight = 0;
}

export class DirectService {
  private node: MeshLibp2p | undefined;
  private handler: DirectHandler | undefined;
  private readonly channels = new Map<string, Channel>();
  private nextId = 1;
  /** Streams opened to peers (tests, benchmarks). */
  opened = 0;
  /** `single`: every request on a new stream of the first protocol version (benchmarks compare both). */
  mode: 'mux' | 'single' = 'mux';

  constructor(
    private readonly networkId: string,
    private readonly logger: Logger,
    /** Longest wait for a new stream to a peer, ms. */
    private readonly openTimeoutMs = 5_000,
  ) {}

  /** Sets what this node answers (the network's record store). */
  serve(handler: DirectHandler): void {
    this.handler = handler;
  }

  /** What this node answers with (tests swap it to simulate a holder that does not answer). */
  get serving(): DirectHandler | undefined {
    return this.handler;
  }

  async start(node: MeshLibp2p): Promise<void> {
    this.node = node;
    await node.handle(recordProtocol(this.networkId), (stream, connection) =>
      this.serveStream(stream, connection.remotePeer.toString()),
    );
    await node.handle(singleShotProtocol(this.networkId), (stream, connection) =>
      this.answerOnce(stream, connection.remotePeer.toString()),
    );
  }

  async stop(node: MeshLibp2p): Promise<void> {
    this.node = undefined;
    for (const [peer, ch] of this.channels) this.drop(peer, ch, new Error('the network stopped'));
    await node.unhandle(recordProtocol(this.networkId)).catch(() => {});
    await node.unhandle(singleShotProtocol(this.networkId)).catch(() => {});
  }

  /**
   * Sends one request to `peerId` on its long-lived stream and returns the reply.
   * A stream that fails is dropped (its requests rejected) and the next request
   * opens a new one; a request that failed on a reused stream before any reply
   * is sent once more on a fresh stream (get, put and ctl are idempotent).
   */
  async request(peerId: string, req: DirectRequest, signal: AbortSignal): Promise<DirectReply> {
    if (this.mode === 'single') return this.requestOnce(peerId, req, signal);
    try {
      return await this.send(peerId, req, signal, false);
    } catch (err) {
      if (!(err instanceof StaleStreamError) || signal.aborted) throw err;
      return this.send(peerId, req, signal, true);
    }
  }

  /** One request on a new stream (the single-shot protocol; benchmarks compare both). */
  async requestOnce(peerId: string, req: DirectRequest, signal: AbortSignal): Promise<DirectReply> {
    const node = this.node;
    if (node === undefined) throw new Error('the network is not started');
    const stream = await node.dialProtocol(peerIdFromString(peerId), singleShotProtocol(this.networkId), {
      signal,
    });
    const onAbort = () => stream.abort(new Error('direct request aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      stream.send(frame(req));
      const reply = parseDirectReply(await readFrame(stream));
      if (reply === undefined) throw new Error('malformed direct reply');
      return reply;
    } finally {
      signal.removeEventListener('abort', onAbort);
      stream.close().catch(() => stream.abort(new Error('close failed')));
    }
  }

  private channel(peerId: string): Channel {
    let ch = this.channels.get(peerId);
    if (ch === undefined) {
      ch = new Channel();
      this.channels.set(peerId, ch);
    }
    return ch;
  }

  private async send(
    peerId: string,
    req: DirectRequest,
    signal: AbortSignal,
    fresh: boolean,
  ): Promise<DirectReply> {
    if (this.node === undefined) throw new Error('the network is not started');
    signal.throwIfAborted();
    const ch = this.channel(peerId);
    if (ch.inFlight >= MAX_IN_FLIGHT) await this.slot(ch, signal);
    ch.inFlight++;
    try {
      const reused = ch.stream !== undefined;
      if (fresh && ch.stream !== undefined) this.drop(peerId, ch, new Error('re-opening'));
      const stream = ch.stream ?? (await this.open(peerId, ch, signal));
      const id = this.nextId++;
      return await new Promise<DirectReply>((resolve, reject) => {
        const onAbort = () => {
          ch.pending.delete(id);
          reject(signal.reason instanceof Error ? signal.reason : new Error('direct request aborted'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        ch.pending.set(id, {
          resolve: (reply) => {
            signal.removeEventListener('abort', onAbort);
            resolve(reply);
          },
          reject: (err) => {
            signal.removeEventListener('abort', onAbort);
            reject(reused && !fresh ? new StaleStreamError(err.message) : err);
          },
        });
        try {
          stream.send(frame({ ...req, i: id }));
        } catch (err) {
          ch.pending.delete(id);
          signal.removeEventListener('abort', onAbort);
          this.drop(peerId, ch, err as Error);
          reject(reused && !fresh ? new StaleStreamError((err as Error).message) : err);
        }
      });
    } finally {
      ch.inFlight--;
      ch.waiting.shift()?.();
    }
  }

  /** Waits for a free slot on `ch` (a bounded number of requests in flight per peer). */
  private slot(ch: Channel, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const go = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = ch.waiting.indexOf(go);
        if (i >= 0) ch.waiting.splice(i, 1);
        reject(signal.reason instanceof Error ? signal.reason : new Error('direct request aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      ch.waiting.push(go);
    });
  }

  /** Opens the long-lived stream to `peerId` (one opening shared by concurrent requests). */
  private open(peerId: string, ch: Channel, signal: AbortSignal): Promise<Stream> {
    if (ch.opening === undefined) {
      const node = this.node;
      if (node === undefined) return Promise.reject(new Error('the network is not started'));
      const opening = node
        .dialProtocol(peerIdFromString(peerId), recordProtocol(this.networkId), {
          signal: AbortSignal.timeout(this.openTimeoutMs),
        })
        .then((stream) => {
          this.opened++;
          if (ch.opening === opening) ch.opening = undefined;
          if (this.node === undefined) {
            stream.abort(new Error('the network stopped'));
            throw new Error('the network is not started');
          }
          this.attachClient(peerId, ch, stream);
          return stream;
        });
      opening.catch(() => {
        if (ch.opening === opening) ch.opening = undefined;
      });
      ch.opening = opening;
    }
    const opening = ch.opening;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      opening.then(
        (s) => {
          signal.removeEventListener('abort', onAbort);
          resolve(s);
        },
        (err: Error) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  private attachClient(peerId: string, ch: Channel, stream: Stream): void {
    ch.stream = stream;
    const reader = new FrameReader();
    stream.addEventListener('message', (evt) => {
      let messages: unknown[];
      try {
        messages = reader.push(bytesOf(evt.data));
      } catch (err) {
        stream.abort(err as Error);
        return;
      }
      for (const raw of messages) {
        const id = (raw as { i?: unknown } | null)?.i;
        const waiter = typeof id === 'number' ? ch.pending.get(id) : undefined;
        if (waiter === undefined) continue; // answered after its request gave up
        ch.pending.delete(id as number);
        const reply = parseDirectReply(raw);
        if (reply === undefined) waiter.reject(new Error('malformed direct reply'));
        else waiter.resolve(reply);
      }
    });
    stream.addEventListener('close', (evt) => {
      if (ch.stream === stream) this.drop(peerId, ch, evt.error ?? new Error('direct stream closed'));
    });
    stream.addEventListener('remoteCloseWrite', () => {
      if (ch.stream === stream) this.drop(peerId, ch, new Error('direct stream closed by the peer'));
    });
  }

  /** Forgets `ch`'s stream and rejects the requests waiting on it. */
  private drop(peerId: string, ch: Channel, err: Error): void {
    const stream = ch.stream;
    ch.stream = undefined;
    if (stream !== undefined && stream.status === 'open') stream.abort(err);
    const pending = [...ch.pending.values()];
    ch.pending.clear();
    for (const p of pending) p.reject(err);
    if (ch.inFlight === 0 && ch.waiting.length === 0 && ch.opening === undefined)
      this.channels.delete(peerId);
  }

  /** Answers every request arriving on a long-lived stream from `from`, in any order, by id. */
  private serveStream(stream: Stream, from: string): void {
    const reader = new FrameReader();
    let running = 0;
    stream.addEventListener('message', (evt) => {
      let messages: unknown[];
      try {
        messages = reader.push(bytesOf(evt.data));
      } catch (err) {
        this.logger.debug({ peer: from, err: (err as Error).message }, 'direct stream failed');
        stream.abort(err as Error);
        return;
      }
      for (const raw of messages) {
        const id = (raw as { i?: unknown } | null)?.i;
        if (typeof id !== 'number') continue;
        const reply = (r: DirectReply) => {
          if (stream.writeStatus !== 'writable') return;
          try {
            stream.send(frame({ ...r, i: id }));
          } catch (err) {
            stream.abort(err as Error);
          }
        };
        const req = parseDirectRequest(raw);
        const handler = this.handler;
        if (req === undefined || handler === undefined || running >= 2 * MAX_IN_FLIGHT) {
          reply({ ok: false });
          continue;
        }
        let answer: DirectReply | Promise<DirectReply>;
        try {
          answer = handler(req, from);
        } catch (err) {
          this.logger.debug({ peer: from, err: (err as Error).message }, 'direct request failed');
          reply({ ok: false });
          continue;
        }
        if (!(answer instanceof Promise)) {
          reply(answer);
          continue;
        }
        running++;
        answer.then(reply, () => reply({ ok: false })).finally(() => running--);
      }
    });
    stream.addEventListener('remoteCloseWrite', () => {
      stream.close().catch(() => stream.abort(new Error('close failed')));
    });
  }

  /** Answers one request on its own stream (the single-shot protocol). */
  private async answerOnce(stream: Stream, from: string): Promise<void> {
    try {
      const req = parseDirectRequest(await readFrame(stream));
      const handler = this.handler;
      const reply: DirectReply =
        req === undefined || handler === undefined ? { ok: false } : await handler(req, from);
      stream.send(frame(reply));
      await stream.close();
    } catch (err) {
      this.logger.debug({ peer: from, err: (err as Error).message }, 'direct request failed');
      stream.abort(err as Error);
    }
  }
}

/** A request lost with a stream that had served before (the peer restarted, or the stream timed out). */
class StaleStreamError extends Error {}
