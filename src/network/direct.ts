/**
 * The one-hop record protocol `/meshcache/<id>/rec/1.0.0`: a node that knows
 * the full membership computes the holders of a key itself and asks or tells
 * them directly, instead of an iterative kad-dht lookup. One request per
 * stream: a 4-byte big-endian length, then JSON, and one reply framed the same
 * way. Messages are bounded (MAX_MESSAGE) and zod-validated; the protocol runs
 * on the network's connections, so the PSK and the per-network name isolate it
 * as they do kad-dht. Records travel in the kad-dht record format and are
 * stored through the same LwwDatastore (last-write-wins, write filters,
 * clock re-basing from `from`/`sent`).
 */
import type { Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { MeshLibp2p } from './libp2p.js';

export const MAX_MESSAGE = 4 * 1024 * 1024;

export function recordProtocol(networkId: string): string {
  return `/meshcache/${networkId}/rec/1.0.0`;
}

const key = z.string().min(1).max(8192);
export const directRequestSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('get'), k: key }),
  /** `r`: the record JSON (encodeRecord with from/sent). */
  z.object({ t: z.literal('put'), k: key, r: z.string().max(MAX_MESSAGE) }),
  /** A control message (invalidation) sent straight to a member, besides gossip. */
  z.object({ t: z.literal('ctl'), m: z.record(z.string(), z.unknown()) }),
]);
export type DirectRequest = z.infer<typeof directRequestSchema>;

export const directReplySchema = z.object({
  ok: z.boolean(),
  /** get: the record JSON held there (absent: none). */
  r: z.string().max(MAX_MESSAGE).optional(),
  /** The holder's wall clock when it answered. */
  sent: z.number().finite().optional(),
});
export type DirectReply = z.infer<typeof directReplySchema>;

/** Answers a request from `from`. */
export type DirectHandler = (req: DirectRequest, from: string) => DirectReply | Promise<DirectReply>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function frame(value: unknown): Uint8Array {
  const body = encoder.encode(JSON.stringify(value));
  if (body.byteLength > MAX_MESSAGE) throw new Error('direct message too large');
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, body.byteLength);
  out.set(body, 4);
  return out;
}

/** Reads one framed JSON message from the stream. */
async function readFrame(stream: Stream): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let want = -1;
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
    chunks.push(bytes);
    size += bytes.byteLength;
    if (want < 0 && size >= 4) {
      const head = Buffer.concat(chunks);
      want = head.readUInt32BE(0);
      if (want > MAX_MESSAGE) throw new Error('direct message too large');
    }
    if (want >= 0 && size >= want + 4) break;
  }
  const all = Buffer.concat(chunks);
  if (want < 0 || all.byteLength < want + 4) throw new Error('direct message truncated');
  return JSON.parse(decoder.decode(all.subarray(4, 4 + want)));
}

export class DirectService {
  private node: MeshLibp2p | undefined;
  private handler: DirectHandler | undefined;

  constructor(
    private readonly networkId: string,
    private readonly logger: Logger,
  ) {}

  /** Sets what this node answers (the network's record store). */
  serve(handler: DirectHandler): void {
    this.handler = handler;
  }

  async start(node: MeshLibp2p): Promise<void> {
    this.node = node;
    await node.handle(recordProtocol(this.networkId), (stream, connection) =>
      this.answer(stream, connection.remotePeer.toString()),
    );
  }

  async stop(node: MeshLibp2p): Promise<void> {
    this.node = undefined;
    await node.unhandle(recordProtocol(this.networkId)).catch(() => {});
  }

  /** Sends one request to `peerId` and returns its validated reply. */
  async request(peerId: string, req: DirectRequest, signal: AbortSignal): Promise<DirectReply> {
    const node = this.node;
    if (node === undefined) throw new Error('the network is not started');
    const stream = await node.dialProtocol(peerIdFromString(peerId), recordProtocol(this.networkId), {
      signal,
    });
    const onAbort = () => stream.abort(new Error('direct request aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      stream.send(frame(req));
      const reply = directReplySchema.parse(await readFrame(stream));
      return reply;
    } finally {
      signal.removeEventListener('abort', onAbort);
      stream.close().catch(() => stream.abort(new Error('close failed')));
    }
  }

  private async answer(stream: Stream, from: string): Promise<void> {
    try {
      const parsed = directRequestSchema.safeParse(await readFrame(stream));
      const handler = this.handler;
      const reply: DirectReply =
        !parsed.success || handler === undefined ? { ok: false } : await handler(parsed.data, from);
      stream.send(frame(reply));
      await stream.close();
    } catch (err) {
      this.logger.debug({ peer: from, err: (err as Error).message }, 'direct request failed');
      stream.abort(err as Error);
    }
  }
}
