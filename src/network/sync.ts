/**
 * A small request/response protocol to pull state from one peer: the caller
 * sends a name (one line), the peer answers with the JSON its provider for that
 * name returns, then closes. The DHT backend uses it to fetch the invalidation
 * log it missed while it was away.
 */
import type { Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Logger } from 'pino';
import { MeshError } from '../errors.js';
import type { MeshLibp2p } from './libp2p.js';
import { syncProtocol } from './names.js';

/** Answers a pull; the result is sent as JSON. */
export type SyncProvider = () => unknown;

const MAX_RESPONSE = 16 * 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function readAll(stream: Stream, limit: number, until?: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
    chunks.push(bytes);
    size += bytes.byteLength;
    if (size > limit) throw new Error('sync message too large');
    if (until !== undefined && bytes.includes(until)) break;
  }
  return Buffer.concat(chunks);
}

export class SyncService {
  private readonly providers = new Map<string, SyncProvider>();
  private node: MeshLibp2p | undefined;

  constructor(
    private readonly networkId: string,
    private readonly logger: Logger,
  ) {}

  /** Registers what this node answers for `name`; returns a remover. */
  provide(name: string, provider: SyncProvider): () => void {
    this.providers.set(name, provider);
    return () => {
      if (this.providers.get(name) === provider) this.providers.delete(name);
    };
  }

  /** Asks `peerId` for its state under `name`; undefined when it has no provider for it. */
  async pull(peerId: string, name: string, signal: AbortSignal): Promise<unknown> {
    const node = this.node;
    if (node === undefined) throw new MeshError('NOT_STARTED', 'the network is not started');
    const stream = await node.dialProtocol(peerIdFromString(peerId), syncProtocol(this.networkId), {
      signal,
    });
    try {
      stream.send(encoder.encode(`${name}\n`));
      const onAbort = () => stream.abort(new Error('sync pull aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const body = decoder.decode(await readAll(stream, MAX_RESPONSE));
        return body === '' ? undefined : (JSON.parse(body) as unknown);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    } finally {
      await stream.close().catch(() => stream.abort(new Error('close failed')));
    }
  }

  async start(node: MeshLibp2p): Promise<void> {
    this.node = node;
    await node.handle(syncProtocol(this.networkId), (stream) => this.answer(stream));
  }

  async stop(node: MeshLibp2p): Promise<void> {
    this.node = undefined;
    await node.unhandle(syncProtocol(this.networkId)).catch(() => {});
  }

  private async answer(stream: Stream): Promise<void> {
    try {
      const request = decoder.decode(await readAll(stream, 1024, 0x0a));
      const name = request.split('\n')[0] ?? '';
      const provider = this.providers.get(name);
      if (provider !== undefined) stream.send(encoder.encode(JSON.stringify(provider())));
      await stream.close();
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'sync request failed');
      stream.abort(err as Error);
    }
  }
}
