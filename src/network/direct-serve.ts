/**
 * The serving side of the one-hop record protocol (direct.ts): every request
 * arriving on a long-lived stream from one peer is answered by id, in any
 * order, with a bound on those running at once; a posted request (id 0) is
 * handled and not answered.
 */
import type { Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import {
  bytesOf,
  type DirectHandler,
  type DirectReply,
  type DirectRequest,
  FrameReader,
  frame,
  MAX_IN_FLIGHT,
  parseDirectRequest,
} from './direct-wire.js';
import { deferWindowUpdates } from './window-updates.js';

export interface ServeOptions {
  /** What this node answers with now (tests swap it). */
  readonly handler: () => DirectHandler | undefined;
  readonly logger: Logger;
  /** Send yamux window updates only when half the window is used (window-updates.ts). */
  readonly deferWindowUpdates: boolean;
}

/** Answers every request arriving on `stream` from `from`. */
export function serveStream(stream: Stream, from: string, options: ServeOptions): void {
  const logger = options.logger;
  if (options.deferWindowUpdates) deferWindowUpdates(stream);
  const reader = new FrameReader();
  let running = 0;
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
      if (id === 0) {
        // Posted (no reply wanted).
        if (req !== undefined) answerPosted(req, from, options.handler(), logger);
        continue;
      }
      const handler = options.handler();
      if (req === undefined || handler === undefined || running >= 2 * MAX_IN_FLIGHT) {
        reply({ ok: false });
        continue;
      }
      let answer: DirectReply | Promise<DirectReply>;
      try {
        answer = handler(req, from);
      } catch (err) {
        logger.debug({ peer: from, err: (err as Error).message }, 'direct request failed');
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
