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
import { MeshError } from '../errors.js';
import { bump, type MessageCounts, newCounts, requestKind } from './counters.js';
import { serveStream } from './direct-serve.js';
import { answerOnce, requestOnce } from './direct-single.js';
import type { MeshLibp2p } from './libp2p.js';
import { deferWindowUpdates } from './window-updates.js';
import {
  bytesOf,
  type DirectHandler,
  type DirectReply,
  type DirectRequest,
  FrameReader,
  FrameTooLargeError,
  frame,
  isUnread,
  MAX_IN_FLIGHT,
  MAX_MESSAGE,
  type PostedFrame,
  parseDirectReply,
  recordProtocol,
  singleShotProtocol,
} from './wire/index.js';
import { BatchedWriter } from './wire/writer.js';

export type { DirectHandler, DirectReply, DirectRequest, PostedFrame } from './wire/index.js';

interface Pending {
  resolve(reply: DirectReply): void;
  reject(err: Error): void;
}

/** The long-lived stream to one peer: requests in flight by id, and those waiting for a slot. */
class Channel {
  stream: Stream | undefined;
  /** Batches the frames written to `stream` in one turn of the event loop. */
  writer: BatchedWriter | undefined;
  opening: Promise<Stream> | undefined;
  readonly pending = new Map<number, Pending>();
  readonly waiting: Array<() => void> = [];
  inFlight = 0;
  /** Calls in flight (not bounded by slots). */
  calls = 0;
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
  /**
   * `deferred`: streams opened from now on send a yamux window update only when half
   * the window is used (window-updates.ts); `yamux`: after every frame (benchmarks compare both).
   */
  windowUpdates: 'deferred' | 'yamux' = 'deferred';
  /** Frames sent and received per kind (counters.ts); the network shares its own. */
  counts: MessageCounts = newCounts();

  constructor(
    private readonly networkId: string,
    private readonly logger: Logger,
    /** Longest wait for a new stream to a peer, ms. */
    private readonly openTimeoutMs = 5_000,
    /** Largest message sent or read, bytes (`network.maxMessageBytes`). */
    readonly maxMessage = MAX_MESSAGE,
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
      serveStream(stream, connection.remotePeer.toString(), {
        handler: () => this.handler,
        logger: this.logger,
        maxMessage: this.maxMessage,
        deferWindowUpdates: this.windowUpdates === 'deferred',
        counts: this.counts,
      }),
    );
    await node.handle(singleShotProtocol(this.networkId), (stream, connection) =>
      answerOnce(stream, connection.remotePeer.toString(), this.handler, this.logger),
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
      // A call is not idempotent: once written it is never sent again (its caller decides).
      if (!(err instanceof StaleStreamError) || signal.aborted || req.t === 'call') throw err;
      return this.send(peerId, req, signal, true);
    }
  }

  /**
   * Sends a request framed by `postedFrame` (the same bytes for every peer) to `peerId`
   * on its long-lived stream without asking for a reply (id 0:
   * the peer answers nothing; peers of earlier versions answer and the reply is ignored).
   * For invalidations sent to every member at once: 19 replies (and their window updates)
   * would otherwise come back while the notice is still being sent. True once written.
   */
  async post(peerId: string, framed: PostedFrame, signal: AbortSignal): Promise<boolean> {
    if (this.node === undefined) throw new Error('the network is not started');
    const ch = this.channel(peerId);
    if (ch.stream === undefined) await this.open(peerId, ch, signal);
    (ch.writer as BatchedWriter).write(framed.bytes);
    bump(this.counts.sent, framed.kind);
    return true;
  }

  /**
   * Opens the long-lived stream to `peerId` ahead of its first request (called when a
   * member joins). A failure is only logged: the first request opens it again.
   */
  connect(peerId: string): void {
    const ch = this.channel(peerId);
    if (ch.stream !== undefined || this.node === undefined) return;
    this.open(peerId, ch, AbortSignal.timeout(this.openTimeoutMs)).catch((err: Error) => {
      this.logger.debug({ peer: peerId, err: err.message }, 'direct stream not opened ahead');
      if (ch.stream === undefined) this.forgetIfIdle(peerId, ch);
    });
  }

  /** One request on a new stream (the single-shot protocol; benchmarks compare both). */
  async requestOnce(peerId: string, req: DirectRequest, signal: AbortSignal): Promise<DirectReply> {
    if (this.node === undefined) throw new Error('the network is not started');
    return requestOnce(this.node, this.networkId, peerId, req, signal);
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
    const id = this.nextId++;
    // Framed before anything is sent: a message past the bound fails alone, the stream stays.
    const bytes = this.frameOrRefuse(req, id, peerId);
    const ch = this.channel(peerId);
    // Calls may run long: they do not take the slots record requests wait for.
    const slotted = req.t !== 'call';
    if (slotted && ch.inFlight >= MAX_IN_FLIGHT) await this.slot(ch, signal);
    if (slotted) ch.inFlight++;
    else ch.calls++;
    try {
      const reused = ch.stream !== undefined;
      if (fresh && ch.stream !== undefined) this.drop(peerId, ch, new Error('re-opening'));
      let stream = ch.stream;
      if (stream === undefined) {
        try {
          stream = await this.open(peerId, ch, signal);
        } catch (err) {
          throw signal.aborted ? err : new NotSentError(peerId, err as Error);
        }
      }
      const writer = ch.writer as BatchedWriter;
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
        writer.write(bytes);
        bump(this.counts.sent, requestKind(req.t));
      });
    } finally {
      if (slotted) {
        ch.inFlight--;
        ch.waiting.shift()?.();
      } else ch.calls--;
    }
  }

  private frameOrRefuse(message: DirectRequest, id: number, peerId: string): Uint8Array {
    try {
      return frame(message, this.maxMessage, id);
    } catch (err) {
      if (!(err instanceof FrameTooLargeError)) throw err;
      throw new MeshError(
        'TOO_LARGE',
        `a '${message.t}' message of ${err.size} bytes to ${peerId} is larger than network.maxMessageBytes (${err.limit})`,
        { peer: peerId, size: err.size, limit: err.limit },
      );
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
    ch.writer = new BatchedWriter(stream, (err) => {
      if (ch.stream === stream) this.drop(peerId, ch, err);
    });
    if (this.windowUpdates === 'deferred') deferWindowUpdates(stream);
    const reader = new FrameReader(this.maxMessage);
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
        bump(this.counts.received, 'rec:reply');
        if (waiter === undefined) continue; // answered after its request gave up
        ch.pending.delete(id as number);
        if (isUnread(raw)) {
          waiter.reject(
            raw.unread === 'too-large'
              ? new MeshError(
                  'TOO_LARGE',
                  `reply of ${raw.size} bytes from ${peerId} is larger than network.maxMessageBytes (${this.maxMessage})`,
                  { peer: peerId, size: raw.size, limit: this.maxMessage },
                )
              : new Error('malformed direct reply'),
          );
          continue;
        }
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

  /** Closes every long-lived stream this node opened (benchmarks: the next requests open new ones). */
  reset(): void {
    for (const [peer, ch] of this.channels) this.drop(peer, ch, new Error('reset'));
  }

  /** Forgets `ch`'s stream and rejects the requests waiting on it. */
  private drop(peerId: string, ch: Channel, err: Error): void {
    const stream = ch.stream;
    ch.stream = undefined;
    ch.writer = undefined;
    if (stream !== undefined && stream.status === 'open') stream.abort(err);
    const pending = [...ch.pending.values()];
    ch.pending.clear();
    for (const p of pending) p.reject(err);
    this.forgetIfIdle(peerId, ch);
  }

  /** Drops `ch` once nothing uses it (no request in flight or waiting, no stream opening). */
  private forgetIfIdle(peerId: string, ch: Channel): void {
    if (ch.inFlight === 0 && ch.calls === 0 && ch.waiting.length === 0 && ch.opening === undefined)
      this.channels.delete(peerId);
  }
}

/** A request that was never written: no stream to the peer could be opened. */
export class NotSentError extends Error {
  constructor(
    readonly peer: string,
    cause: Error,
  ) {
    super(`no stream to ${peer}: ${cause.message}`, { cause });
  }
}

/** A request lost with a stream that had served before (the peer restarted, or the stream timed out). */
class StaleStreamError extends Error {}
