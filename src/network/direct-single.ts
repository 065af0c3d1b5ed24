/**
 * The single-shot form of the record protocol (`rec/1.0.0`): one request and
 * one reply on a new stream. Still answered, and used by the benchmark to
 * compare with the long-lived stream of direct.ts.
 */
import type { Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Logger } from 'pino';
import type { MeshLibp2p } from './libp2p.js';
import {
  type DirectHandler,
  type DirectReply,
  type DirectRequest,
  frame,
  parseDirectReply,
  parseDirectRequest,
  readFrame,
  singleShotProtocol,
} from './wire/index.js';

/** Sends `req` to `peerId` on a new stream and reads the one reply. */
export async function requestOnce(
  node: MeshLibp2p,
  networkId: string,
  peerId: string,
  req: DirectRequest,
  signal: AbortSignal,
): Promise<DirectReply> {
  const stream = await node.dialProtocol(peerIdFromString(peerId), singleShotProtocol(networkId), { signal });
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

/** Answers one request on its own stream. */
export async function answerOnce(
  stream: Stream,
  from: string,
  handler: DirectHandler | undefined,
  logger: Logger,
): Promise<void> {
  try {
    const req = parseDirectRequest(await readFrame(stream));
    const reply: DirectReply =
      req === undefined || handler === undefined ? { ok: false } : await handler(req, from);
    stream.send(frame(reply));
    await stream.close();
  } catch (err) {
    logger.debug({ peer: from, err: (err as Error).message }, 'direct request failed');
    stream.abort(err as Error);
  }
}
