/**
 * The serving side of the one-hop record protocol (direct.ts): every request
 * arriving on a long-lived stream from one peer is answered by id, in any
 * order, with a bound on those running at once; a posted request (id 0) is
 * handled and not answered.
 */
import type { Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import { MeshError, serializeError } from '../errors.js';
import { bump, type MessageCounts, requestKind } from './counters.js';
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
  parseDirectRequest,
} from './wire/index.js';
import { BatchedWriter } from './wire/writer.js';

/** Most remote calls one peer may have running here at once; more are refused as UNAVAILABLE. */
const MAX_CALLS_RUNNING = 2048;

const refused = (code: 'TOO_LARGE' | 'INVALID_PARAMS' | 'UNAVAILABLE', message: string): DirectReply => ({
  ok: false,
  e: serializeError(new MeshError(code, message)),
});

export interface ServeOptions {
  /** What this node answers with now (tests swap it). */
  readonly handler: () => DirectHandler | undefined;
  readonly logger: Logger;
  /** Send yamux window updates only when half the window is used (window-updates.ts). */
  readonly deferWindowUpdates: boolean;
  /** Largest message read or answered, bytes. */
  readonly maxMessage: number;
  /** Requests received and replies sent, per kind (counters.ts). */
  readonly counts: MessageCounts;
}

/** Answers every request arriving on `stream` from `from`. */
export function serveStream(stream: Stream, from: string, options: ServeOptions): void {
  const logger = options.logger;
  if (options.deferWindowUpdates) deferWindowUpdates(stream);
  const reader = new FrameReader(options.maxMessage);
  const writer = new BatchedWriter(stream, (err) => stream.abort(err));
  let running = 0;
  let calls = 0;
  stream.addEventListener('message', (evt) => {
    let messages: unknown[];
    try {
      messages = reader.push(bytesOf(evt.data));
    } catch (err) {
      logger.debug({ peer: from, err: (err as Error).message }, 'direct stream failed');
      stream.abort(err as Error);
      return;
    }
    for (const raw of messages) {
      const rawId = (raw as { i?: unknown } | null)?.i;
      const id = typeof rawId === 'number' ? rawId : undefined;
      if (id === undefined && !isUnread(raw)) continue;
      const reply = (r: DirectReply) => {
        if (stream.writeStatus !== 'writable') return;
        let bytes: Uint8Array;
        try {
          bytes = frame(r, options.maxMessage, id);
        } catch (err) {
          if (!(err instanceof FrameTooLargeError)) throw err;
          const limit = `network.maxMessageBytes (${err.limit})`;
          bytes = frame(
            refused('TOO_LARGE', `reply of ${err.size} bytes is larger than ${limit}`),
            MAX_MESSAGE,
            id,
          );
        }
        writer.write(bytes);
        bump(options.counts.sent, 'rec:reply');
      };
      if (isUnread(raw)) {
        // Skipped by the reader: answered (when its id could be read), the stream goes on.
        logger.debug({ peer: from, unread: raw.unread, size: raw.size }, 'direct message not read');
        if (id === undefined || id === 0) continue;
        reply(
          raw.unread === 'too-large'
            ? refused(
                'TOO_LARGE',
                `request of ${raw.size} bytes is larger than network.maxMessageBytes (${options.maxMessage}) of the receiving member`,
              )
            : refused('INVALID_PARAMS', 'malformed request'),
        );
        continue;
      }
      const req = parseDirectRequest(raw);
      bump(options.counts.received, req === undefined ? 'rec:?' : requestKind(req.t, id === 0));
      if (id === 0) {
        // Posted (no reply wanted).
        if (req !== undefined) answerPosted(req, from, options.handler(), logger);
        continue;
      }
      const handler = options.handler();
      if (req === undefined) {
        reply(refused('INVALID_PARAMS', 'malformed or unknown request'));
        continue;
      }
      const call = req.t === 'call';
      if (handler === undefined || (call ? calls >= MAX_CALLS_RUNNING : running >= 2 * MAX_IN_FLIGHT)) {
        reply(refused('UNAVAILABLE', 'the member is not serving, or too busy'));
        continue;
      }
      let answer: DirectReply | Promise<DirectReply>;
      try {
        answer = handler(req, from);
      } catch (err) {
        logger.debug({ peer: from, err: (err as Error).message }, 'direct request failed');
        reply({ ok: false, e: serializeError(err) });
        continue;
      }
      if (!(answer instanceof Promise)) {
        reply(answer);
        continue;
      }
      if (call) calls++;
      else running++;
      answer
        .then(reply, (err) => reply({ ok: false, e: serializeError(err) }))
        .finally(() => (call ? calls-- : running--));
    }
  });
  stream.addEventListener('remoteCloseWrite', () => {
    stream.close().catch(() => stream.abort(new Error('close failed')));
  });
}

function answerPosted(
  req: DirectRequest,
  from: string,
  handler: DirectHandler | undefined,
  logger: Logger,
): void {
  try {
    const answer = handler?.(req, from);
    if (answer instanceof Promise) answer.catch(() => {});
  } catch (err) {
    logger.debug({ peer: from, err: (err as Error).message }, 'posted direct message failed');
  }
}
